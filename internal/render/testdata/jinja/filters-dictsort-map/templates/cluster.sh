#!/bin/bash
# dictsort sorts by key, case-insensitively
{%- for key, value in aws.tags|dictsort %}
aws ec2 create-tags --tags Key={{ key }},Value={{ value }}
{%- endfor %}
{%- for key, value in aws.tags|dictsort(true) %}
# case-sensitive: {{ key }}
{%- endfor %}
{%- for key, value in aws.tags|dictsort(false, "value") %}
# by value: {{ value }}={{ key }}
{%- endfor %}
IPS="{{ aws.nodes|map(attribute="ip")|join(",") }}"
IDS="{{ aws.nodes|map(attribute="id")|join(" ") }}"
NAMES="{{ aws.tags|dictsort|map("first")|map("upper")|join("|") }}"
HOSTS="{% for ip in aws.nodes|map(attribute="ip") %}{{ ip }}:27017 {% endfor %}"
