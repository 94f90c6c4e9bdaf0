#!/bin/bash
{% if aws["volumes"][0] is defined %}
echo volumes
{% endif %}
