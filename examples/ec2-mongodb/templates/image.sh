#!/bin/bash
# Bake script of {{ name }}:{{ version }}, rendered by `cloud-compose image up`: it runs once,
# as the bake instance's user data; `image up` adds `shutdown -h now` after it, and the
# stopped instance becomes the image. A failing command ends the script before that
# shutdown: the instance keeps running and the bake fails after `image up --timeout`
# (60m by default; 20m is plenty here) with the console output's last lines.
set -euo pipefail

yum update -y
yum install -y docker lvm2 mdadm xfsprogs
systemctl enable docker
systemctl start docker
docker pull washpost/mongodb:{{ version }}
# nodes start from this image: leave no host keys or logs of the bake behind
rm -f /etc/ssh/ssh_host_*
cloud-init clean --logs || true
