#!/bin/bash
{%- for volume in aws.volumes %}
{%- set outer = loop %}
pvcreate {{ volume.block }}
vgcreate {{ volume.meta.group }} {{ volume.block }}
{%- for lv in volume.meta.volumes %}
lvcreate -L {{ lv.size }} -n {{ lv.name }} {{ volume.meta.group }}  # volume {{ outer.index }}.{{ loop.index }}
{%- endfor %}
{%- endfor %}
{%- for i in range(3) %}
echo "attempt {{ i }}"
{%- endfor %}
{%- for i in range(1, 10, 4) %}
sleep {{ i }}
{%- endfor %}
{%- for word in ["alpha", "beta"] %}
{%- for letter in word[:2] %}
echo "{{ word }}:{{ letter }}"
{%- endfor %}
{%- endfor %}
