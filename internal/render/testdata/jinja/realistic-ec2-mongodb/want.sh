#!/bin/bash
# cluster: mongodb-prod (r5.xlarge, 3 nodes, EBS optimized)
# tags: CostCenter=4417 Environment=production Service=mongodb Team=platform
# security groups: sg-0a1b2c3d4e5f60718 sg-0f9e8d7c6b5a49382
set -euo pipefail
exec > >(tee -a /var/log/cloud-compose.log | logger -t cloud-compose) 2>&1

INSTANCE_IP=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)
case "$INSTANCE_IP" in
  10.20.1.10) NODE_ID=0 ;;
  10.20.2.10) NODE_ID=1 ;;
  10.20.3.10) NODE_ID=2 ;;
  *) echo "instance $INSTANCE_IP is not a node of mongodb-prod" >&2; exit 1 ;;
esac
export INSTANCE_IP NODE_ID

# ---- sysctl ----
echo "[$(date -u +%FT%TZ)] sysctl"
cat << EOF > /etc/sysctl.d/90-mongodb.conf
vm.swappiness = 1
vm.dirty_ratio = 15
vm.dirty_background_ratio = 5
net.core.somaxconn = 4096
net.ipv4.tcp_keepalive_time = 120
kernel.pid_max = 64000
EOF
sysctl --system > /dev/null
# MongoDB wants transparent huge pages off
for setting in enabled defrag; do
  echo never > /sys/kernel/mm/transparent_hugepage/$setting
done
# ---- hosts ----
echo "[$(date -u +%FT%TZ)] hosts"
echo "10.20.1.10 node0 mongodb-prod-0" >> /etc/hosts
echo "10.20.2.10 node1 mongodb-prod-1" >> /etc/hosts
echo "10.20.3.10 node2 mongodb-prod-2" >> /etc/hosts
hostnamectl set-hostname "mongodb-prod-$NODE_ID"
# ---- dns ----
echo "[$(date -u +%FT%TZ)] dns"
chattr -i /etc/resolv.conf || true
cat << EOF > /etc/resolv.conf
search ec2.internal prod.example.internal
nameserver 10.20.0.2
options timeout:2 attempts:3 rotate
EOF
chattr +i /etc/resolv.conf
# ---- secrets ----
echo "[$(date -u +%FT%TZ)] secrets"
export AWS_DEFAULT_REGION=us-east-1
decrypt() {
  echo "$1" | base64 -d > /tmp/ciphertext.bin
  aws kms decrypt --ciphertext-blob fileb:///tmp/ciphertext.bin --output text --query Plaintext | base64 -d
  rm -f /tmp/ciphertext.bin
}
MONGODB_ADMIN_PASSWORD="$(decrypt 'AQICAHiLEJCgMO5bz+iTCHvKONy2BdaXWn/Zb1k3K+c6Qr3/H+JXvjvJ/YBK9cP0AbBTnQ/zF5AbpbqFb/qtwxwLdjZP574OCZgEXbYTOLYyGssERQls4PU1tuoWCj0mTmTQZowSGzRYB5M622NgIuKFsYYZrzdQ1IR+2TRwcrE4j7YW13O1')"
export MONGODB_ADMIN_PASSWORD
MONGODB_KEYFILE="$(decrypt 'AQICAHgpzHasZRFUcWVUdGN3I7E/vrRKmAmCbxnquVgzKJd3Lmwy3IVKw7R/b4r1pRv9cuSbrIpbU5i3r9Ipa5YclW5+ofOIIuRW0C1Q+qPPaDuYX+RakFLUEaPnLG0BtqSLkzu4I/00RpK9H2ml+OW80JM9RehMQcazlVnPUj9FG9prdz7s')"
export MONGODB_KEYFILE
DATADOG_API_KEY="$(decrypt 'AQICAHj+xd4MotGKYsXCX3QZs6/TlEBsRZKfe9xaSafo0HGkS/px3vJ4y3cdUBGKtsnpR8z3H1I5rbmeFHOO2bODovcaWD2uQfVSSUHMycDpjZv7p/dSbFBInyCmGiJ+Wa/ejd7D7MXPDsjVjL0p/RoXryzFKWOwlbXb2LklpBbxVAucdJ8l')"
export DATADOG_API_KEY

# ---- raid journal ----
echo "[$(date -u +%FT%TZ)] raid journal"
yum install -y mdadm
mdadm --create /dev/md0 --run --level=0 --chunk=256 --raid-devices=2 /dev/xvdf /dev/xvdg
mdadm --detail --scan >> /etc/mdadm.conf
mkfs.xfs -f -K /dev/md0
echo -e '/dev/md0\t/data/mongodb-journal\txfs\tdefaults,noatime,nofail\t0\t2' >> /etc/fstab
mkdir -p /data/mongodb-journal
mount /data/mongodb-journal

# ---- lvm docker ----
echo "[$(date -u +%FT%TZ)] lvm docker"
systemctl enable lvm2-lvmetad.service lvm2-lvmetad.socket
systemctl start lvm2-lvmetad.service lvm2-lvmetad.socket
pvcreate /dev/xvdz
vgcreate docker /dev/xvdz
lvcreate -L 38G -n data -Z n docker  # 1/2
lvcreate -L 1G -n metadata -Z n docker  # 2/2
udevadm control --reload-rules
udevadm trigger
cat << EOF > /etc/sysconfig/docker-storage
DOCKER_STORAGE_OPTIONS="--storage-driver=devicemapper --storage-opt dm.datadev=/dev/docker/data --storage-opt dm.metadatadev=/dev/docker/metadata --storage-opt dm.basesize=36G"
EOF
# ---- mounts ----
echo "[$(date -u +%FT%TZ)] mounts"
# data: 500G io1 (5000 IOPS)
echo -e '/dev/xvdc\t/data/mongodb\text4\tdefaults,noatime,nofail\t0\t2' >> /etc/fstab
mkdir -p /data/mongodb
mount /data/mongodb
# restored from snap-0d3f2a91c7b4e5a68: grow the file system to the volume
resize2fs /dev/xvdc
# ---- docker ----
echo "[$(date -u +%FT%TZ)] docker"
yum install -y docker-18.06.1ce
usermod -aG docker ec2-user
mkdir -p /etc/docker
cat << EOF > /etc/docker/daemon.json
{"log-driver": "awslogs", "log-opts": {"awslogs-region": "us-east-1", "awslogs-group": "/mongodb/prod", "tag": "{{.Name}}-$NODE_ID"}}
EOF
systemctl enable docker
systemctl start docker
for attempt in $(seq 1 5); do docker info > /dev/null && break || sleep $((attempt * 2)); done
curl -sSL "https://github.com/docker/compose/releases/download/1.23.2/docker-compose-$(uname -s)-$(uname -m)" -o /usr/local/bin/docker-compose
chmod +x /usr/local/bin/docker-compose
# ---- mongodb config ----
echo "[$(date -u +%FT%TZ)] mongodb config"
mkdir -p /etc/mongodb /data/mongodb/db
chown -R 999:999 /data/mongodb
mkdir -p "$(dirname /etc/mongodb/mongod.conf)"
cat << 'EOF' > /etc/mongodb/mongod.conf
storage:
  dbPath: /data/db
  journal:
    enabled: true
  wiredTiger:
    engineConfig:
      cacheSizeGB: 4
replication:
  replSetName: rs0
  oplogSizeMB: 2048
net:
  port: 27018
  bindIp: 0.0.0.0
security:
  keyFile: /etc/mongodb/keyfile
  authorization: enabled
EOF
chmod 0644 /etc/mongodb/mongod.conf
chown root:root /etc/mongodb/mongod.conf
echo "$MONGODB_KEYFILE" > /etc/mongodb/keyfile
chmod 0400 /etc/mongodb/keyfile
chown 999:999 /etc/mongodb/keyfile
mkdir -p "$(dirname /etc/mongodb/init-replset.js)"
cat << 'EOF' > /etc/mongodb/init-replset.js
rs.initiate({
  _id: "rs0",
  members: [
    {_id: 0, host: "node0:27018", priority: 2},
    {_id: 1, host: "node1:27018"},
    {_id: 2, host: "node2:27018"}
  ]
});
EOF
chmod 0644 /etc/mongodb/init-replset.js
chown root:root /etc/mongodb/init-replset.js
cat << EOF > /etc/mongodb/create-users.js
db.getSiblingDB("admin").createUser({user: "admin", pwd: "$MONGODB_ADMIN_PASSWORD", roles: ["root", "clusterAdmin", "userAdminAnyDatabase"]});
EOF
chmod 0400 /etc/mongodb/create-users.js
# ---- logrotate ----
echo "[$(date -u +%FT%TZ)] logrotate"
mkdir -p "$(dirname /etc/logrotate.d/mongodb)"
cat << 'EOF' > /etc/logrotate.d/mongodb
/data/mongodb/db/*.log /var/log/cloud-compose.log {
    daily
    rotate 14
    compress
    delaycompress
    missingok
    notifempty
    copytruncate
}
EOF
chmod 0644 /etc/logrotate.d/mongodb
chown root:root /etc/logrotate.d/mongodb
# ---- docker compose ----
echo "[$(date -u +%FT%TZ)] docker compose"
mkdir -p /opt/mongodb-prod
cat << 'EOF' > /opt/mongodb-prod/docker-compose.yml
version: "2"
services:
  mongodb:
    container_name: mongodb
    command: --shardsvr --dbpath /data/db --keyFile /etc/mongodb/keyfile
    ports:
      - "27018:27018"
    environment:
      MONGODB_PORT: 27018
  snapshots:
    container_name: snapshots
    links:
      - mongodb

EOF
cat << 'EOF' > /opt/mongodb-prod/docker-compose.override.yml
version: "2"
services:
  mongodb:
    image: washpost/mongodb:3.6
    command: --shardsvr --replSet rs0 --dbpath /data/db --keyFile /etc/mongodb/keyfile --config /etc/mongodb/mongod.conf
    restart: always
    extra_hosts:
      - "node0:10.20.1.10"
      - "node1:10.20.2.10"
      - "node2:10.20.3.10"
    volumes:
      - "/data/mongodb/db:/data/db"
      - "/etc/mongodb:/etc/mongodb:ro"
    logging:
      driver: awslogs
      options:
        awslogs-group: /mongodb/prod
        awslogs-stream: mongodb-node-${NODE_ID}
    environment:
      NODE_ID: ${NODE_ID}
      NODE_LIST: node0,node1,node2
      MONGODB_ADMIN_PASSWORD: ${MONGODB_ADMIN_PASSWORD}
  snapshots:
    image: washpost/mongodb-snapshots:3.6
    restart: always
    environment:
      CLUSTER_NAME: mongodb-prod
      MONGODB_DEVICE_NAME: /dev/xvdc
      AWS_REGION: us-east-1
EOF
cd /opt/mongodb-prod
for attempt in $(seq 1 10); do docker-compose pull -q && break || sleep $((attempt * 2)); done
docker-compose up -d
until [ "$(docker inspect --format '{{ .State.Status }}' mongodb)" == "running" ]; do sleep 5; done
if [ "$NODE_ID" == "0" ]; then
  sleep 30
  docker exec mongodb mongo --port 27018 /etc/mongodb/init-replset.js
  sleep 10
  docker exec mongodb mongo --port 27018 /etc/mongodb/create-users.js
fi
echo "mongodb-prod node $NODE_ID is up"
