#!/bin/bash
{% include "one-newline.sh" %}
{% include "two-newlines.sh" %}
{% include "no-newline.sh" %}
echo "end of {{ name }}"


