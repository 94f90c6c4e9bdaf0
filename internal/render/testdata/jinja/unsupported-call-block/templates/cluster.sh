#!/bin/bash
{% from "files.sh" import write_file, each_node -%}
{% call write_file("/etc/resolv.conf") -%}
nameserver {{ aws.dns.nameserver }}
options timeout:2
{%- endcall %}
{% call write_file("/etc/motd", mode="0444") %}
Welcome to {{ name }}
{% endcall %}
{% call(node) each_node(aws.nodes) -%}
ping -c 1 {{ node.ip }}
{%- endcall %}
