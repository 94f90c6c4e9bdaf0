#!/bin/bash
cat << 'EOF' > /opt/docker-compose.yml
{{ docker_compose.yaml }}
EOF
cat << 'EOF' > /opt/docker-compose.override.yml
{{ docker_compose.override_yaml }}
EOF
# search_path seen by cluster.sh: {{ search_path }}
