#!/bin/bash
SEED={{ aws.nodes[0].ip }}
SEED_SUBNET={{ aws['nodes'][0]['subnet'] }}
MOUNT={{ aws['volumes'][0]['meta']['mount'] }}
MIXED={{ aws.volumes[0]['meta'].mount }}
JOURNAL={{ aws.volumes[0].meta.volumes[0].size }}
LAST={{ aws.nodes[-1].ip }}
REST="{% for node in aws.nodes[1:] %}{{ node.ip }} {% endfor %}"
{%- set key = "nameserver" %}
DNS={{ aws.dns[key] }}
{%- set i = 2 %}
THIRD={{ aws.nodes[i].subnet }}
COUNT={{ aws.nodes|length }}
CHAR={{ name[0] }}{{ name[-6:] }}
