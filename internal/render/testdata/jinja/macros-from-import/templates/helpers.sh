{% macro log(message, level="INFO") -%}
echo "[{{ level }}] {{ message }}" | tee -a /var/log/boot.log
{%- endmacro %}
{% macro retry(command, attempts=5, delay=2) -%}
for i in $(seq 1 {{ attempts }}); do {{ command }} && break; sleep {{ delay }}; done
{%- endmacro %}
{% macro host_entry(node) -%}
echo "{{ node.ip }} node{{ node.id }}" >> /etc/hosts
{%- endmacro %}
