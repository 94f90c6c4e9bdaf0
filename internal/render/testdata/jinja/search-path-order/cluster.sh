#!/bin/bash
# cluster.sh from the project directory: '.' is searched before search_path
# search_path as templates see it: {{ search_path }}
# its length: {{ search_path|length }}
{% include "common.sh" %}
{% include "extra.sh" %}
