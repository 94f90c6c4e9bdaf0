#!/bin/bash
# Boot script of shop node {{ _node_id }}: a member of the web group.
set -euo pipefail
echo "node $NODE_ID of $CLUSTER_NAME on $INSTANCE_IP: $GREETING (cores ${NODE_CORES:-?}, RAM ${NODE_RAM:-?} MiB)"
exec "$CLOUD_COMPOSE_BIN" __demo-service \
  --addr "$INSTANCE_IP:{{ health.port }}" \
  --data "$VOLUME_DATA" \
  --node "{{ _node_id }}" \
  --version "${VERSION:-}"
