#!/bin/bash
# what StrictUndefined lets through: the last name, attribute or item of a
# chain may be undefined in a test or a filter
NAME_DEFINED={{ secrets is defined }}
NAME_NOT_DEFINED={{ secrets is not defined }}
ATTR_DEFINED={{ aws.dns is defined }}
ITEM_DEFINED={{ aws["volumes"] is defined }}
TAG_DEFINED={{ aws.tags.Team is defined }}
NAME_DEFAULT={{ zone|default("us-east-1a") }}
ATTR_DEFAULT={{ aws.dns|default("none") }}
ITEM_DEFAULT={{ aws["iops"]|default(100) }}
NAME_IS_NONE={{ secrets is none }}
ATTR_IS_STRING={{ aws.dns is string }}
GUARDED={% if secrets is defined and secrets.ZK_PASSWORD %}yes{% else %}no{% endif %}
SHORT_OR={{ aws.instance_type or secrets.ZK_PASSWORD }}
SHORT_AND={{ aws.dns is defined and aws.dns.nameserver }}
INLINE_IF={{ secrets.ZK_PASSWORD if secrets is defined else "unset" }}
{% if secrets is defined %}
{{ secrets.ZK_PASSWORD }}
{% endif %}
