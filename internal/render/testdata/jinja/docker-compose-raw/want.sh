#!/bin/bash
cat << 'EOF' > /opt/docker-compose.yml
version: "2"
services:
  web:
    image: nginx:${NGINX_VERSION:-1.15}
    # docker-compose.yml is copied verbatim: {{ name }} stays as it is
    command: ["nginx", "-g", "daemon off;"]

EOF
# no override
LINES=6
