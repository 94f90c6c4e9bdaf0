#!/bin/bash
# Boot script of quickstart node {{ _node_id }}, rendered by cloud-compose.
# The local provider runs it with bash in the node's root directory, with
# NODE_ID, INSTANCE_ID, INSTANCE_IP, CLUSTER_NAME, VOLUME_DATA (the data
# volume's directory, also linked at ./data), the cluster's `environment:`
# and CLOUD_COMPOSE_BIN (the cloud-compose binary) set.
set -euo pipefail

echo "node $NODE_ID of cluster $CLUSTER_NAME booting on $INSTANCE_IP (instance $INSTANCE_ID): $GREETING"
echo "data volume: $VOLUME_DATA"

# The service is the boot script's last process: when it dies, the node
# shows as failed and the next `cluster up` replaces it.
exec "$CLOUD_COMPOSE_BIN" __demo-service \
  --addr "$INSTANCE_IP:{{ health.port }}" \
  --data "$VOLUME_DATA" \
  --node "{{ _node_id }}" \
  --version "${VERSION:-}"
