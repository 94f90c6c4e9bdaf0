{#- Helpers shared by the other templates: {% import "macros.sh" as m %} or {% from "macros.sh" import ... %}. -#}
{% macro section(title) -%}
# ---- {{ title }} ----
echo "[$(date -u +%FT%TZ)] {{ title }}"
{%- endmacro %}

{% macro fstab(block, mount, file_system, options=none, pass=2) -%}
echo -e '{{ block }}\t{{ mount }}\t{{ file_system }}\t{{ options|default("defaults,noatime", true) }}\t0\t{{ pass }}' >> /etc/fstab
mkdir -p {{ mount }}
mount {{ mount }}
{%- endmacro %}

{% macro retry(command, attempts=5) -%}
for attempt in $(seq 1 {{ attempts }}); do {{ command }} && break || sleep $((attempt * 2)); done
{%- endmacro %}

{% macro write_file(path, mode="0644", owner="root") -%}
mkdir -p "$(dirname {{ path }})"
cat << 'EOF' > {{ path }}
{{ caller() }}
EOF
chmod {{ mode }} {{ path }}
chown {{ owner }}:{{ owner }} {{ path }}
{%- endmacro %}
