#!/bin/bash
{% include "secrets.environment.sh" %}
{%- if secrets.MONGODB_ADMIN_PASSWORD is defined %}
AUTH_ENABLED=true
{%- endif %}
# {{ secrets|length }} secrets: {{ secrets.keys()|sort|join(", ") }}
