#!/bin/bash
{%- for node in aws.nodes %}
# node {{ loop.index }} of {{ loop.length }} (index0={{ loop.index0 }}, revindex={{ loop.revindex }}, revindex0={{ loop.revindex0 }})
echo "{{ node.ip }} node{{ node.id }}" >> /etc/hosts
{%- if loop.first %}
echo "first node is the seed: {{ node.ip }}"
{%- endif %}
{%- if loop.last %}
echo "last node: {{ node.ip }}"
{%- endif %}
{%- endfor %}
PEERS="{% for node in aws.nodes %}{{ node.ip }}:27017{% if not loop.last %},{% endif %}{% endfor %}"
ROLES="{% for node in aws.nodes %}{{ loop.cycle('primary', 'secondary') }}{{ ' ' if not loop.last }}{% endfor %}"
