#!/bin/bash
# {{ name }}
{% raw -%}
docker inspect --format '{{ .State.Health.Status }}' mongodb
docker ps --format "{{.Names}}\t{{.Status}}"
echo "{% not a tag %} {# not a comment #}"
{%- endraw %}
VALUE=${VALUE:-default}
echo "{% raw %}{{ literal }}{% endraw %} and {{ name }}"
