#!/bin/bash
# Bake script of {{ name }}:{{ version }}, rendered by `cloud-compose image up`.
# It runs once per bake with bash in the new image's root directory (NODE_ROOT);
# whatever it leaves there, every node started from the image finds in its root.
set -euo pipefail

mkdir -p etc
echo "{{ name }}:{{ version }}, baked $(date -u +%Y-%m-%dT%H:%M:%SZ)" > etc/baked
echo "baked: $(cat etc/baked)"
