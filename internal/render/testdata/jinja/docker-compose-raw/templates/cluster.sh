#!/bin/bash
cat << 'EOF' > /opt/docker-compose.yml
{{ docker_compose.yaml }}
EOF
{%- if docker_compose.override_yaml is not defined %}
# no override
{%- endif %}
LINES={{ docker_compose.yaml.splitlines()|length }}
