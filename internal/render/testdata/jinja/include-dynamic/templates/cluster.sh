#!/bin/bash
{%- for role in roles %}
{% include "roles/" ~ role ~ ".sh" %}
{%- endfor %}
{% include "roles/optional.sh" ignore missing %}
{% include ["roles/custom.sh", "roles/default.sh"] %}
{%- set extra = "roles/monitoring.sh" %}
{% include extra %}
