#!/bin/bash
cat << 'EOF' > /etc/resolv.conf
nameserver 10.0.0.2
options timeout:2
EOF
chmod 0644 /etc/resolv.conf
cat << 'EOF' > /etc/motd

Welcome to call-block

EOF
chmod 0444 /etc/motd

# node 0
ping -c 1 10.0.1.10
# node 1
ping -c 1 10.0.2.10
