#!/bin/bash
GROUP="sg-abc123" STRIPPED="sg-abc123"
GROUP=" sg-def456 " STRIPPED="sg-def456"
GROUP="sg-0987ff" STRIPPED="sg-0987ff"
WORDS=5 FIRST_FLAG=--shardsvr
IMAGE_ID=ami-0c2b8ca1dad447f8a
# data: xvd device, letter c
# scratch: NVMe device nvme1n1
MOTD="welcome" LEFT="welcome  " RIGHT="  welcome"
ACCOUNT=123456789012 POLICY=mongodb
REPLACED=-shardsvr -replSet rs0 -dbpath /data/db
UPPER=STRINGS TITLE=Strings CAP=Mongo db
FORMATTED=strings-007
JOIN=a,b FIND=3 COUNT=2
NO_ESCAPING=<a & b> 'quote's'
