#!/bin/bash
{#-
  Boot script for one node of a MongoDB replica set.
  Rendered by `cloud-compose cluster build` (and by `cluster up`, which also sets _node_id).
#}
# cluster: {{ name }} ({{ aws.instance_type }}, {{ aws.nodes|length }} nodes{{ ", EBS optimized" if aws.ebs_optimized|default(false) }})
# tags: {% for key, value in aws.tags|dictsort %}{{ key }}={{ value }}{{ " " if not loop.last }}{% endfor %}
{%- set security_groups = aws.security_groups.split(",") if aws.security_groups is string else aws.security_groups %}
# security groups: {{ security_groups|join(" ") }}
set -euo pipefail
exec > >(tee -a /var/log/cloud-compose.log | logger -t cloud-compose) 2>&1

INSTANCE_IP=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)
{%- if _node_id is defined %}
NODE_ID={{ _node_id }}
{%- else %}
case "$INSTANCE_IP" in
{%- for node in aws.nodes %}
  {{ node.ip }}) NODE_ID={{ node.id }} ;;
{%- endfor %}
  *) echo "instance $INSTANCE_IP is not a node of {{ name }}" >&2; exit 1 ;;
esac
{%- endif %}
export INSTANCE_IP NODE_ID

{% include "system.sysctl.sh" %}
{% include "system.hosts.sh" %}
{% include "system.dns.sh" %}
{% include "secrets.decrypt.sh" %}
{% include "system.raid.sh" %}
{% include "system.lvm.sh" %}
{% include "system.mounts.sh" %}
{% include "docker.install.sh" %}
{% include "mongodb.config.sh" %}
{% include "system.logrotate.sh" %}
{% include "docker_compose.run.sh" %}
echo "{{ name }} node $NODE_ID is up"
