#!/bin/bash
OPTIMIZED={{ "yes" if aws.ebs_optimized else "no" }}
PROTECT={{ "on" if aws.terminate_protection else "off" }}
TYPE={{ aws.instance_type if aws.instance_type is defined else "t2.medium" }}
MODE={{ "cluster" if aws.nodes|length > 1 else "single" }}
{%- for node in aws.nodes %}
echo "node{{ node.id }}{{ " (seed)" if loop.first }}{{ "," if not loop.last }}"
{%- endfor %}
NO_ELSE="{{ "never shown" if false }}"
