{% macro install(pkgs) -%}
yum install -y {{ pkgs|join(' ') }}
{%- endmacro %}
{% macro check(p, how="command -v") -%}
{{ how }} {{ p }} >/dev/null
{%- endmacro %}
