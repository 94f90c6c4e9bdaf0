#!/bin/bash
# how YAML 1.1 scalars (as PyYAML reads them) print
{%- for key, value in values.items() %}
{{ key }}={{ value }}
{%- endfor %}
SUM={{ values.int + values.octal + values.underscores + values.hex }}
PRODUCT={{ values.float * 2 }}
{%- if values.bool_yes and not values.bool_no and values.bool_on and not values.bool_off %}
# yes/no/on/off are booleans
{%- endif %}
{%- if values.empty is none and values.tilde is none %}
# empty and ~ are None
{%- endif %}
