#!/bin/bash
# volumes with a file system, filtered in the for tag: loop.length counts the filtered ones
{%- for volume in aws.volumes if volume.file_system is defined %}
mkfs -t {{ volume.file_system }} {{ volume.block }}  # {{ loop.index }}/{{ loop.length }}
{%- endfor %}
{%- for volume in aws.volumes if volume.ephemeral is defined and volume.ephemeral %}
echo "{{ volume.block }} is ephemeral"
{%- else %}
echo "no ephemeral volumes"
{%- endfor %}
{%- for node in aws.nodes %}
echo "node {{ node.id }}"
{%- else %}
echo "no static nodes: running in an auto scaling group"
{%- endfor %}
