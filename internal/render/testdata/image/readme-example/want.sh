#!/bin/bash
# bake docker:1.10 from ami-6d1c2007 on t2.micro
set -euo pipefail
# packages.install.sh
yum install -y epel-release
yum upgrade -y
yum install -y lvm2 git jq
# docker.install.sh: docker 1.10, held at that version
yum install -y yum-versionlock docker-engine-1.10.3
yum versionlock docker-engine-1.10.3
systemctl enable docker
# compose.install.sh
curl -fsSL -o /usr/bin/docker-compose "https://example.invalid/compose/1.7.1/docker-compose-$(uname -s)-$(uname -m)"
chmod +x /usr/bin/docker-compose
