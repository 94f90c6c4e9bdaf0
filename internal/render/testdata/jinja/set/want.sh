#!/bin/bash
DATA_DIR=/data/setter
PORT=27018
SIZE=large CPUS=4
# inside the loop count=1
# inside the loop count=1
# after the loop count=0 (a set inside a loop does not leak out)
# a namespace does: count=2 seeds=10.0.1.10 10.0.2.10
echo "cluster setter on r4.large"
