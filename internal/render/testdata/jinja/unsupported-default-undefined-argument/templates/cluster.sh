#!/bin/bash
CHAINED={{ aws.user|default(aws.username)|default("ec2-user") }}
