{# these macros read `name` from the template data, so they must be imported with context #}
{% macro add_user(user) -%}
useradd -m -c "{{ name }} {{ user }}" {{ user }}
usermod -aG docker {{ user }}
{%- endmacro %}
{% macro home(user) -%}
/home/{{ user }}/{{ name }}
{%- endmacro %}
