{% import "macros.sh" as m -%}
{{ m.section("logrotate") }}
{% call m.write_file("/etc/logrotate.d/mongodb") -%}
{{ aws.volumes[2].meta.mount }}/db/*.log /var/log/cloud-compose.log {
    daily
    rotate {{ logging.meta.retention|default(7) }}
    compress
    delaycompress
    missingok
    notifempty
    copytruncate
}
{%- endcall %}
