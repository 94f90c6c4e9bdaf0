#!/bin/bash
# system.sh from lib-system
echo "* soft nofile 64000" >> /etc/security/limits.conf
echo "includes limits set"
# docker.sh from vendor/lib-docker
systemctl start docker
# scripts/finish.sh from vendor/lib-docker
echo "includes finished"
