#!/bin/bash
OPTIMIZED=yes
PROTECT=off
TYPE=t2.medium
MODE=cluster
echo "node0 (seed),"
echo "node1"
NO_ELSE=""
