{% import "macros.sh" as m -%}
{{ m.section("sysctl") }}
{%- set settings = {
  "vm.swappiness": 1,
  "vm.dirty_ratio": 15,
  "vm.dirty_background_ratio": 5,
  "net.core.somaxconn": 4096,
  "net.ipv4.tcp_keepalive_time": 120,
  "kernel.pid_max": 64000
} %}
cat << EOF > /etc/sysctl.d/90-mongodb.conf
{%- for key, value in settings.items() %}
{{ key }} = {{ value }}
{%- endfor %}
EOF
sysctl --system > /dev/null
# MongoDB wants transparent huge pages off
for setting in enabled defrag; do
  echo never > /sys/kernel/mm/transparent_hugepage/$setting
done
