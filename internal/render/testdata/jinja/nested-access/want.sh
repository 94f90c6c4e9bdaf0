#!/bin/bash
SEED=10.0.1.10
SEED_SUBNET=subnet-aaa
MOUNT=/data/mongodb
MIXED=/data/mongodb
JOURNAL=5G
LAST=10.0.3.10
REST="10.0.2.10 10.0.3.10 "
DNS=10.0.0.2
THIRD=subnet-ccc
COUNT=3
CHAR=naccess
