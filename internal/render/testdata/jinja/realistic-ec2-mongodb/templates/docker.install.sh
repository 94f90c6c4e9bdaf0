{% from "macros.sh" import section, retry -%}
{{ section("docker") }}
yum install -y docker-{{ DOCKER_VERSION|default("18.06.1ce") }}
usermod -aG docker {{ aws.username }}
{%- if logging is defined and logging.driver == "awslogs" %}
mkdir -p /etc/docker
cat << EOF > /etc/docker/daemon.json
{"log-driver": "awslogs", "log-opts": {"awslogs-region": "{{ AWS_REGION }}", "awslogs-group": "{{ logging.meta.group }}", "tag": "{% raw %}{{.Name}}{% endraw %}-$NODE_ID"}}
EOF
{%- endif %}
systemctl enable docker
systemctl start docker
{{ retry("docker info > /dev/null") }}
curl -sSL "https://github.com/docker/compose/releases/download/{{ DOCKER_COMPOSE_VERSION|default("1.23.2") }}/docker-compose-$(uname -s)-$(uname -m)" -o /usr/local/bin/docker-compose
chmod +x /usr/local/bin/docker-compose
