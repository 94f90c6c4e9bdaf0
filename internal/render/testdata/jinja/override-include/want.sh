#!/bin/bash
# templates/service.yml: what cluster.sh includes (templates is first on the path)
cat << 'EOF'
# the override is rendered with a loader over its own directory only
# compose/service.yml: what the override includes
  service: override-include
EOF
