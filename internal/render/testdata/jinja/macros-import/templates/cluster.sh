#!/bin/bash
{% import "lib/volumes.sh" as volumes -%}
{%- for volume in aws.volumes %}
{{ volumes.mount(volume) }}
{%- endfor %}
{{ volumes.mount(aws.volumes[0], options="ro") }}
{{ volumes.banner("done", width=20) }}
{{ volumes.banner("defaults") }}
