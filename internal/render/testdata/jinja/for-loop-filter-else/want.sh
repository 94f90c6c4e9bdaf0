#!/bin/bash
# volumes with a file system, filtered in the for tag: loop.length counts the filtered ones
mkfs -t ext4 /dev/xvdc  # 1/2
mkfs -t xfs /dev/xvdd  # 2/2
echo "/dev/xvdb is ephemeral"
echo "no static nodes: running in an auto scaling group"
