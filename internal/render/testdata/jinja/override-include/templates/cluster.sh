#!/bin/bash
{% include "service.yml" %}
cat << 'EOF'
{{ docker_compose.override_yaml }}
EOF
