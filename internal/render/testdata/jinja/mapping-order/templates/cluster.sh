#!/bin/bash
# items() follows the order of the YAML document, not the alphabet
{%- for key, value in sysctl.items() %}
sysctl -w {{ key }}={{ value }}
{%- endfor %}
{%- for key in aws.tags %}
# tag {{ loop.index }}: {{ key }}
{%- endfor %}
KEYS="{{ aws.tags.keys()|join(" ") }}"
VALUES="{{ aws.tags.values()|join(" ") }}"
LIST={{ aws.tags.keys()|list }}
ITEMS={{ aws.tags.items()|list }}
FIRST_TAG={{ aws.tags|first }}
SORTED={{ aws.tags|dictsort|map("first")|join(" ") }}
GET={{ aws.tags.get("Team") }} GET_MISSING={{ aws.tags.get("Owner", "nobody") }} GET_NONE={{ aws.tags.get("Owner") }}
