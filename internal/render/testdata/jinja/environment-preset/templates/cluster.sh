#!/bin/bash
# MONGODB_VERSION and GREETING are already set in the environment: their entries are skipped
MONGODB_VERSION={{ MONGODB_VERSION }}
MONGODB_IMAGE={{ MONGODB_IMAGE }}
GREETING="{{ GREETING }}"
OPLOG_SIZE={{ OPLOG_SIZE }}
CONFIG_VERSION={{ environment.MONGODB_VERSION }}
