{% import "macros.sh" as m -%}
{{ m.section("hosts") }}
{%- for node in aws.nodes %}
echo "{{ node.ip }} node{{ node.id }} {{ name }}-{{ node.id }}" >> /etc/hosts
{%- endfor %}
hostnamectl set-hostname "{{ name }}-$NODE_ID"
