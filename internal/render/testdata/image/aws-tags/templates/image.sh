#!/bin/bash
{% for k, v in aws.tags.items() %}
# tag {{ k }}={{ v }}
{% endfor %}
# security groups: {{ aws.security_groups.split(',') }}
# monitoring {{ aws.detailed_monitoring }}, ebs optimized {{ aws.ebs_optimized }}
# instance type {{ aws.instance_type|default('t2.micro') }} (no default filled in: {{ aws.instance_type is defined }})
# {{ aws.tags|dictsort }}
