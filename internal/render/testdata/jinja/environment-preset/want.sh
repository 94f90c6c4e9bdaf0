#!/bin/bash
# MONGODB_VERSION and GREETING are already set in the environment: their entries are skipped
MONGODB_VERSION=4.0
MONGODB_IMAGE=mongo:4.0
GREETING="hello {{ name }}"
OPLOG_SIZE=1024
CONFIG_VERSION=3.6
