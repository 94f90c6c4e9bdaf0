{% from "macros.sh" import section -%}
{%- for volume in aws.volumes if volume.file_system is defined and volume.file_system == "lvm2" %}
{{ section("lvm " ~ volume.name) }}
systemctl enable lvm2-lvmetad.service lvm2-lvmetad.socket
systemctl start lvm2-lvmetad.service lvm2-lvmetad.socket
pvcreate {{ volume.block }}
vgcreate {{ volume.meta.group }} {{ volume.block }}
{%- for lv in volume.meta.volumes %}
lvcreate -L {{ lv.size }} -n {{ lv.name }} -Z n {{ volume.meta.group }}  # {{ loop.index }}/{{ loop.length }}
{%- endfor %}
udevadm control --reload-rules
udevadm trigger
cat << EOF > /etc/sysconfig/docker-storage
DOCKER_STORAGE_OPTIONS="--storage-driver=devicemapper --storage-opt dm.datadev=/dev/{{ volume.meta.group }}/data --storage-opt dm.metadatadev=/dev/{{ volume.meta.group }}/metadata --storage-opt dm.basesize={{ (volume.size|replace("G", "")|int * 0.9)|int }}G"
EOF
{%- endfor %}
