{% from "macros.sh" import section, fstab -%}
{{ section("mounts") }}
{%- for volume in aws.volumes if volume.meta is defined and volume.meta.mount is defined %}
# {{ volume.name }}: {{ volume.size }} {{ volume.volume_type|default("gp2") }}{{ " (%d IOPS)"|format(volume.iops) if volume.iops is defined }}
{%- if volume.snapshot is not defined and volume.meta.format|default(false) %}
mkfs -t {{ volume.file_system }} {{ volume.block }}
{%- endif %}
{{ fstab(volume.block, volume.meta.mount, volume.file_system, volume.meta.options) }}
{%- if volume.snapshot is defined %}
# restored from {{ volume.snapshot }}: grow the file system to the volume
resize2fs {{ volume.block }}
{%- endif %}
{%- endfor %}
