#!/bin/bash
cat << 'EOF' > /opt/docker-compose.yml
version: "2"
services:
  app:
    container_name: app

EOF
cat << 'EOF' > /opt/docker-compose.override.yml
version: "2"
services:
  app:
    image: registry.example.com/app:2.1.0
    extra_hosts:
      - "node0:10.0.1.10"
      - "node1:10.0.2.10"
    logging:
      driver: awslogs
      options:
        awslogs-group: /override
    environment:
      CLUSTER_NAME: override
      API_TOKEN: ${API_TOKEN}
      HAS_NODE_ID: "False"
      SEARCH_PATH_SEEN_BY_OVERRIDE: "['.', 'templates']"
EOF
# search_path seen by cluster.sh: ['.', '.', 'templates']
