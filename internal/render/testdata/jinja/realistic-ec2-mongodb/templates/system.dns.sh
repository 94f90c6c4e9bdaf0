{% import "macros.sh" as m -%}
{{ m.section("dns") }}
{%- if aws.dns is defined and aws.dns.nameserver is defined %}
chattr -i /etc/resolv.conf || true
cat << EOF > /etc/resolv.conf
{%- if aws.dns.search is defined %}
search {{ aws.dns.search }}
{%- endif %}
nameserver {{ aws.dns.nameserver }}
options timeout:2 attempts:3 rotate
EOF
chattr +i /etc/resolv.conf
{%- else %}
# keeping the VPC resolver
{%- endif %}
