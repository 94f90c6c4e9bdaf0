#!/bin/bash
SECURITY_GROUPS="{{ aws.security_groups|join(",") }}"
SECURITY_GROUPS_GLUED="{{ aws.security_groups|join }}"
NAME_UPPER={{ name|upper }} NAME_LOWER={{ name|lower }}
HOST={{ name|replace("-", "_")|lower }}
SIZE_GB={{ aws.volumes[0].size|replace("G", "") }}
COUNT={{ aws.security_groups|length }} TAGS={{ aws.tags|length }} CHARS={{ name|length }}
FIRST={{ aws.security_groups|first }} LAST={{ aws.security_groups|last }}
FIRST_VOLUME={{ (aws.volumes|first).name }}
READAHEAD_TOTAL={{ aws.volumes[0].meta.readahead|int + aws.volumes[1].meta.readahead|int }}
HALF={{ (aws.volumes[0].size|replace("G", "")|int / 2)|int }}
BAD_INT={{ "ten"|int }} BAD_INT_DEFAULT={{ "ten"|int(10) }}
FLOAT_INT={{ "2.9"|int }}
JOINED_UPPER={{ aws.security_groups|join(" ")|upper }}
