#!/bin/bash
cat << 'EOF'
{{ docker_compose.yaml }}
EOF
cat << 'EOF'
{{ docker_compose.override_yaml }}
EOF
