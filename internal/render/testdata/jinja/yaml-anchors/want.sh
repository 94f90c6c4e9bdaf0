#!/bin/bash
SEED=10.0.1.10
echo "node0 subnet-aaa"
echo "node1 subnet-aaa"
# data: ext4 gp2 format=True
# keys in order: file_system,volume_type,meta,name,block
# logs: xfs gp2 format=True
# keys in order: file_system,volume_type,meta,name,block
