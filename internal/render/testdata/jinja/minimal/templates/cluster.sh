#!/bin/bash
echo "booting {{ name }}"
{%- if mongo is not defined %}
echo "only the cluster section is visible"
{%- endif %}
