#!/bin/bash
# lists and mappings print as Python reprs
SECURITY_GROUPS="['sg-abc123', 'sg-def456']"
TAGS="{'Team': 'platform', 'CostCenter': 4417, 'Critical': True}"
VOLUMES="[{'name': 'data', 'size': '10G', 'meta': {'format': True, 'mount': '/data', 'options': None}}]"
EMPTY="[] {}"
MIXED="[1, 2.5, 'three', None, False, ['nested', 'list'], {'key': 'value'}, "it's", 'say "hi"', 'tab\there', 'line\nbreak', 'café', datetime.date(2016, 1, 2)]"
ELEMENTS="1|2.5|three|None|False|['nested', 'list']|{'key': 'value'}|it's|say "hi"|tab	here|line
break|café|2016-01-02|"
SORTED=['sg-def456', 'sg-abc123']
STRING=['sg-abc123', 'sg-def456']
