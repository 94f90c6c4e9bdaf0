#!/bin/bash
# raw
docker inspect --format '{{ .State.Health.Status }}' mongodb
docker ps --format "{{.Names}}\t{{.Status}}"
echo "{% not a tag %} {# not a comment #}"
VALUE=${VALUE:-default}
echo "{{ literal }} and raw"
