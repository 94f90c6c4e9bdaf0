#!/bin/bash
echo "[INFO] starting from-import" | tee -a /var/log/boot.log
echo "10.0.1.10 node0" >> /etc/hosts
echo "10.0.2.10 node1" >> /etc/hosts
for i in $(seq 1 5); do yum install -y docker && break; sleep 2; done
for i in $(seq 1 20); do curl -sf http://localhost:2375/_ping && break; sleep 3; done
echo "[WARN] done" | tee -a /var/log/boot.log
