{% macro write_file(path, mode="0644") -%}
cat << 'EOF' > {{ path }}
{{ caller() }}
EOF
chmod {{ mode }} {{ path }}
{%- endmacro %}
{% macro each_node(nodes) -%}
{%- for node in nodes %}
# node {{ node.id }}
{{ caller(node) }}
{%- endfor %}
{%- endmacro %}
