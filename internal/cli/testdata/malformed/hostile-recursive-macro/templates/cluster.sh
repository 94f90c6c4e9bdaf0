#!/bin/bash
{% macro f(n) %}{{ f(n) }}{% endmacro %}
{{ f(1) }}
