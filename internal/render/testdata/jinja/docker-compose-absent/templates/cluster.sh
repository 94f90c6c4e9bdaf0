#!/bin/bash
# docker_compose={{ docker_compose }}
{%- if docker_compose.yaml is defined %}
echo "has docker-compose.yml"
{%- else %}
echo "no docker-compose.yml"
{%- endif %}
{%- if docker_compose.override_yaml is not defined %}
echo "no docker-compose.override.yml"
{%- endif %}
