#!/bin/bash
# environment entries are rendered (against the environment) and become top-level names
CLUSTER_ENV={{ CLUSTER_ENV }}
DATA_ROOT={{ DATA_ROOT }}
LOG_DIR={{ LOG_DIR }}
FORWARD_REF={{ FORWARD_REF }}
MISSING={{ MISSING }}
REGION={{ REGION }}
SHOUT={{ SHOUT }}
REPLICAS={{ REPLICAS }} DEBUG={{ DEBUG }} RATIO={{ RATIO }} NOTHING={{ NOTHING }}
cat << 'EOF' > /etc/motd
{{ MOTD }}
EOF
# they are strings now
{{ REPLICAS is string }} {{ REPLICAS|int + 1 }} {{ REPLICAS ~ "1" }}
{%- if DEBUG %}
# "False" is a non-empty string, so this branch runs
{%- endif %}
# the environment mapping itself is the raw config
RAW_DATA_ROOT={{ environment.DATA_ROOT }}
RAW_REPLICAS={{ environment.REPLICAS + 1 }}
RAW_NOTHING={{ environment.NOTHING }}
{%- for key in environment %}
export {{ key }}
{%- endfor %}
