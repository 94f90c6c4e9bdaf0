#!/bin/bash
# items() follows the order of the YAML document, not the alphabet
sysctl -w vm.swappiness=1
sysctl -w net.core.somaxconn=4096
sysctl -w kernel.pid_max=64000
sysctl -w fs.file-max=98000
# tag 1: Team
# tag 2: Application
# tag 3: Environment
# tag 4: CostCenter
KEYS="Team Application Environment CostCenter"
VALUES="platform mongodb production 4417"
LIST=['Team', 'Application', 'Environment', 'CostCenter']
ITEMS=[('Team', 'platform'), ('Application', 'mongodb'), ('Environment', 'production'), ('CostCenter', 4417)]
FIRST_TAG=Team
SORTED=Application CostCenter Environment Team
GET=platform GET_MISSING=nobody GET_NONE=None
