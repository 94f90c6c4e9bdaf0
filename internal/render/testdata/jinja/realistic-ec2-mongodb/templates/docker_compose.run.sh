{% import "macros.sh" as m -%}
{{ m.section("docker compose") }}
mkdir -p /opt/{{ name }}
cat << 'EOF' > /opt/{{ name }}/docker-compose.yml
{{ docker_compose.yaml }}
EOF
{%- if docker_compose.override_yaml is defined %}
cat << 'EOF' > /opt/{{ name }}/docker-compose.override.yml
{{ docker_compose.override_yaml }}
EOF
{%- endif %}
cd /opt/{{ name }}
{{ m.retry("docker-compose pull -q", attempts=10) }}
docker-compose up -d
{%- raw %}
until [ "$(docker inspect --format '{{ .State.Status }}' mongodb)" == "running" ]; do sleep 5; done
{%- endraw %}
if [ "$NODE_ID" == "{{ (aws.nodes|first).id }}" ]; then
  sleep 30
  docker exec mongodb mongo --port 27018 /etc/mongodb/init-replset.js
{%- if secrets is defined and secrets.MONGODB_ADMIN_PASSWORD is defined %}
  sleep 10
  docker exec mongodb mongo --port 27018 /etc/mongodb/create-users.js
{%- endif %}
fi
