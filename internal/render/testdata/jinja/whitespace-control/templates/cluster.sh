#!/bin/bash
# no trimming: block tags leave their lines (trim_blocks and lstrip_blocks are off)
{% for node in aws.nodes %}
  echo {{ node.ip }}
{% endfor %}
# a minus at the start of a tag trims before it
{%- for node in aws.nodes %}
  echo {{ node.ip }}
{%- endfor %}
# a minus at the end of a tag trims after it
{% for node in aws.nodes -%}
  echo {{ node.ip }}
{% endfor -%}
# both sides
{%- for node in aws.nodes -%}
  [{{ node.ip }}]
{%- endfor -%}
{# nothing #}
# expressions too: a   {{- name -}}   b
x =  {{- " tight" }}
y = {{ "loose" -}}
   !
