#!/bin/bash
{%- for volume in aws.volumes %}
# {{ volume.name }}: meta {{ "defined" if volume.meta is defined else "undefined" }}, snapshot {{ "undefined" if volume.snapshot is not defined else volume.snapshot }}
{%- if volume.meta is defined and volume.meta and volume.meta.mount is defined %}
mount {{ volume.block }} {{ volume.meta.mount }}
{%- endif %}
{%- if volume.meta is defined and volume.meta is none %}
# {{ volume.name }} has an empty meta (None)
{%- endif %}
{%- endfor %}
{%- if logging is defined and logging.driver is defined and logging.driver == "awslogs" %}
LOG_GROUP={{ logging.meta.group }}
{%- endif %}
{%- if secrets is not defined %}
# no secrets section
{%- endif %}
{%- if "driver" in logging and "retention" not in logging.meta %}
# retention not set
{%- endif %}
{{ aws.volumes[5] is defined }} {{ aws.nodes is defined }} {{ name is string }} {{ aws.volumes is sequence }} {{ aws is mapping }} {{ 3 is odd }}
