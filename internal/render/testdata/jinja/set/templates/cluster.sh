#!/bin/bash
{%- set data_dir = "/data/" ~ name %}
{%- set port = 27017 %}
{%- set hosts = [] %}
{%- set sizes = {"small": 1, "large": 4} %}
{%- set size = aws.instance_type.split(".")[1] %}
DATA_DIR={{ data_dir }}
PORT={{ port + 1 }}
SIZE={{ size }} CPUS={{ sizes[size] }}
{%- set count = 0 %}
{%- for node in aws.nodes %}
{%- set count = count + 1 %}
# inside the loop count={{ count }}
{%- endfor %}
# after the loop count={{ count }} (a set inside a loop does not leak out)
{%- set ns = namespace(count=0, seeds="") %}
{%- for node in aws.nodes %}
{%- set ns.count = ns.count + 1 %}
{%- set ns.seeds = ns.seeds ~ node.ip ~ " " %}
{%- endfor %}
# a namespace does: count={{ ns.count }} seeds={{ ns.seeds.strip() }}
{%- set banner -%}
cluster {{ name }} on {{ aws.instance_type }}
{%- endset %}
echo "{{ banner }}"
