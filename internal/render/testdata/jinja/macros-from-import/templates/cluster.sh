#!/bin/bash
{% from "helpers.sh" import retry, log as say, host_entry -%}
{{ say("starting " ~ name) }}
{%- for node in aws.nodes %}
{{ host_entry(node) }}
{%- endfor %}
{{ retry("yum install -y docker") }}
{{ retry("curl -sf http://localhost:2375/_ping", attempts=20, delay=3) }}
{{ say("done", level="WARN") }}
