#!/bin/bash
{% if %}
echo x
{% endif %}
