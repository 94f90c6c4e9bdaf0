#!/bin/bash
# every environment variable is a top-level name, unless the config has that key
DEPLOY_ENV={{ DEPLOY_ENV }}
NAME={{ name }}
BUILD={{ BUILD_NUMBER }} BUILD_INT={{ BUILD_NUMBER|int }}
{%- for team in TEAM_LIST.split(",") %}
TEAM_{{ loop.index }}={{ team }}
{%- endfor %}
{%- if UNSET_VARIABLE is not defined %}
# UNSET_VARIABLE is not defined
{%- endif %}
OPTIONAL={{ OPTIONAL_SETTING|default("fallback") }}
