{% from "macros.sh" import section, fstab -%}
{%- for array in aws.raid|default([]) %}
{{ section("raid " ~ array.name) }}
yum install -y mdadm
mdadm --create {{ array.block }} --run --level={{ array.level }} --chunk={{ array.chunk|default(512) }} --raid-devices={{ array.devices|length }} {{ array.devices|join(" ") }}
mdadm --detail --scan >> /etc/mdadm.conf
mkfs.{{ array.file_system|default("ext4") }} {{ array.mkfs_options|default("") }} {{ array.block }}
{{ fstab(array.block, array.mount, array.file_system|default("ext4"), array.options) }}
{%- endfor %}
