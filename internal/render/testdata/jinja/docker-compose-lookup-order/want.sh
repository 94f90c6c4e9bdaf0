#!/bin/bash
cat << 'EOF'
# first/docker-compose.yaml: an earlier directory wins over a .yml later on the path
services: {}

EOF
cat << 'EOF'
# second/docker-compose.override.yml: .yml is tried before .yaml in the same directory
override_for: lookup
EOF
