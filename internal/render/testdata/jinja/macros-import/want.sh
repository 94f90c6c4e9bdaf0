#!/bin/bash

echo -e '/dev/xvdc\t/data/db\text4\tdefaults,noatime\t0\t2' >> /etc/fstab
mkdir -p /data/db && mount /data/db
echo -e '/dev/xvdd\t/data/logs\txfs\tdefaults,noatime,nofail\t0\t2' >> /etc/fstab
mkdir -p /data/logs && mount /data/logs
echo -e '/dev/xvdc\t/data/db\text4\tro\t0\t2' >> /etc/fstab
mkdir -p /data/db && mount /data/db
# ==================== done ====================
# ========== defaults ==========
