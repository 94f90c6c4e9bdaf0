#!/bin/bash
# `build` sets no node id; `up` sets _node_id for each node
{%- if _node_id is defined %}
NODE_ID={{ _node_id }}
{%- else %}
INSTANCE_IP=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)
{%- for node in aws.nodes %}
[ "$INSTANCE_IP" == "{{ node.ip }}" ] && NODE_ID={{ node.id }}
{%- endfor %}
{%- endif %}
NODE_NAME={{ name }}-{{ _node_id|default("${NODE_ID}") }}
