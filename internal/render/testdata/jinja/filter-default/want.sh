#!/bin/bash
# undefined -> default, with or without the boolean argument
KEYPAIR=default-key
KEYPAIR2=default-key
TYPE_UNDEF=t2.medium
# defined but falsy: only default(..., true) replaces it
TYPE=""
TYPE_TRUE="t2.medium"
MONITORING=False
MONITORING_TRUE=True
IOPS=0 IOPS_TRUE=100
# null (None) is defined: plain default keeps it
NAMESERVER=None
NAMESERVER_TRUE=10.0.0.2
OPTIONS=defaults,noatime
EMPTY=""
