#!/bin/bash
{% if monitoring.enabled is none %}
echo default monitoring
{% endif %}
