#!/bin/bash
SEED={{ aws.seed.ip }}
{%- for node in aws.nodes %}
echo "node{{ node.id }} {{ node.subnet }}"
{%- endfor %}
{%- for volume in aws.volumes %}
# {{ volume.name }}: {{ volume.file_system }} {{ volume.volume_type }} format={{ volume.meta.format }}
# keys in order: {{ volume.keys()|join(",") }}
{%- endfor %}
