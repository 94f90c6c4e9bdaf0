#!/bin/bash
# environment entries are rendered (against the environment) and become top-level names
CLUSTER_ENV=staging
DATA_ROOT=/data/staging
LOG_DIR=/data/staging/logs
FORWARD_REF=-x
MISSING=/backup
REGION=us-east-1
SHOUT=STAGING
REPLICAS=3 DEBUG=False RATIO=0.75 NOTHING=None
cat << 'EOF' > /etc/motd
welcome to staging
second line
EOF
# they are strings now
True 4 31
# "False" is a non-empty string, so this branch runs
# the environment mapping itself is the raw config
RAW_DATA_ROOT=/data/{{ CLUSTER_ENV }}
RAW_REPLICAS=4
RAW_NOTHING=None
export CLUSTER_ENV
export DATA_ROOT
export LOG_DIR
export FORWARD_REF
export DEFINED_LATER
export MISSING
export REGION
export SHOUT
export REPLICAS
export DEBUG
export RATIO
export NOTHING
export MOTD
