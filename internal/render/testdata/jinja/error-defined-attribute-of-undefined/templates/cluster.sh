#!/bin/bash
# washingtonpost/docker-zookeeper: a project without a secrets: section
{% if secrets.ZK_PASSWORD is defined %}
export ZK_PASSWORD={{ secrets.ZK_PASSWORD }}
{% endif %}
echo zookeeper
