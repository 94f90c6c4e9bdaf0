#!/bin/bash
{% if aws.tags.has_key("Team") %}
TEAM={{ aws.tags.Team }}
{% endif %}
