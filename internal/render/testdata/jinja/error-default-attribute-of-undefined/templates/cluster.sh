#!/bin/bash
# aws.dns is not set: |default covers aws.dns, not aws.dns.nameserver
echo "nameserver {{ aws.dns.nameserver|default("10.0.0.2") }}" > /etc/resolv.conf
