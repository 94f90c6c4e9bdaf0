#!/bin/bash
# image.sh from '.', the first directory of the search path
{% import "common/macros.sh" as m %}
{% include "common/base.sh" %}
{% include "vendor-only.sh" %}
{{ m.install(packages) }}
{% for p in packages %}
{{ m.check(p) }}
{% endfor %}
