{#- macros only: importing this file renders nothing -#}
this text is not part of any macro and is discarded by import
{% macro mount(volume, options="") -%}
echo -e '{{ volume.block }}\t{{ volume.meta.mount }}\t{{ volume.file_system }}\t{{ options or volume.meta.options|default("defaults,noatime") }}\t0\t2' >> /etc/fstab
mkdir -p {{ volume.meta.mount }} && mount {{ volume.meta.mount }}
{%- endmacro %}

{% macro banner(text, width=10, fill="=") -%}
# {{ fill * width }} {{ text }} {{ fill * width }}
{%- endmacro %}
