#!/bin/bash
# bake {{ name }}:{{ version }} from {{ aws.ami }} on {{ aws.instance_type }}
set -euo pipefail
{% include "packages.install.sh" %}
{% include "docker.install.sh" %}
{% include "compose.install.sh" %}
