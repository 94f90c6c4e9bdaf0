#!/bin/bash
# lists and mappings print as Python reprs
SECURITY_GROUPS="{{ aws.security_groups }}"
TAGS="{{ aws.tags }}"
VOLUMES="{{ aws.volumes }}"
EMPTY="{{ aws.empty_list }} {{ aws.empty_map }}"
MIXED="{{ aws.mixed }}"
ELEMENTS="{% for item in aws.mixed %}{{ item }}|{% endfor %}"
SORTED={{ aws.security_groups|sort(reverse=true) }}
STRING={{ aws.security_groups|string }}
