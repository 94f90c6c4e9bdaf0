{% import "macros.sh" as m -%}
{{ m.section("mongodb config") }}
{%- set data_mount = aws['volumes'][2]['meta']['mount'] %}
{%- set primary = aws.nodes|first %}
{%- set admin_roles = ["root", "clusterAdmin", "userAdminAnyDatabase"] %}
{%- set auth = secrets is defined and secrets.MONGODB_ADMIN_PASSWORD is defined %}
mkdir -p /etc/mongodb {{ data_mount }}/db
chown -R 999:999 {{ data_mount }}
{% call m.write_file("/etc/mongodb/mongod.conf") -%}
storage:
  dbPath: /data/db
  journal:
    enabled: true
  wiredTiger:
    engineConfig:
      cacheSizeGB: {{ MONGODB_WIRED_TIGER_CACHE_GB|int }}
replication:
  replSetName: {{ MONGODB_REPL_SET }}
  oplogSizeMB: {{ MONGODB_OPLOG_SIZE|int }}
net:
  port: 27018
  bindIp: 0.0.0.0
security:
  keyFile: /etc/mongodb/keyfile
  authorization: {{ "enabled" if auth else "disabled" }}
{%- endcall %}
echo "$MONGODB_KEYFILE" > /etc/mongodb/keyfile
chmod 0400 /etc/mongodb/keyfile
chown 999:999 /etc/mongodb/keyfile
{% call m.write_file("/etc/mongodb/init-replset.js") -%}
rs.initiate({
  _id: "{{ MONGODB_REPL_SET }}",
  members: [
{%- for node in aws.nodes %}
    {_id: {{ node.id }}, host: "node{{ node.id }}:27018"{{ ", priority: 2" if node.id == primary.id }}}{{ "," if not loop.last }}
{%- endfor %}
  ]
});
{%- endcall %}
{%- if auth %}
cat << EOF > /etc/mongodb/create-users.js
db.getSiblingDB("admin").createUser({user: "admin", pwd: "$MONGODB_ADMIN_PASSWORD", roles: [{% for role in admin_roles %}"{{ role }}"{% if not loop.last %}, {% endif %}{% endfor %}]});
EOF
chmod 0400 /etc/mongodb/create-users.js
{%- endif %}
