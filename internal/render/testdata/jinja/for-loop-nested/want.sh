#!/bin/bash
pvcreate /dev/xvdz
vgcreate docker /dev/xvdz
lvcreate -L 19G -n data docker  # volume 1.1
lvcreate -L 1G -n metadata docker  # volume 1.2
pvcreate /dev/xvdy
vgcreate app /dev/xvdy
lvcreate -L 5G -n cache app  # volume 2.1
echo "attempt 0"
echo "attempt 1"
echo "attempt 2"
sleep 1
sleep 5
sleep 9
echo "alpha:a"
echo "alpha:l"
echo "beta:b"
echo "beta:e"
