#!/bin/bash
# `build` sets no node id; `up` sets _node_id for each node
INSTANCE_IP=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)
[ "$INSTANCE_IP" == "10.0.1.10" ] && NODE_ID=0
[ "$INSTANCE_IP" == "10.0.2.10" ] && NODE_ID=1
NODE_NAME=node-id-${NODE_ID}
