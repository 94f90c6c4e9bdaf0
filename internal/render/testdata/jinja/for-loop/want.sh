#!/bin/bash
# node 1 of 3 (index0=0, revindex=3, revindex0=2)
echo "10.0.1.10 node0" >> /etc/hosts
echo "first node is the seed: 10.0.1.10"
# node 2 of 3 (index0=1, revindex=2, revindex0=1)
echo "10.0.2.10 node1" >> /etc/hosts
# node 3 of 3 (index0=2, revindex=1, revindex0=0)
echo "10.0.3.10 node2" >> /etc/hosts
echo "last node: 10.0.3.10"
PEERS="10.0.1.10:27017,10.0.2.10:27017,10.0.3.10:27017"
ROLES="primary secondary primary"
