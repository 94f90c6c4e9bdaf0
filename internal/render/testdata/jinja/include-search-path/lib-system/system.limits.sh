echo "* soft nofile 64000" >> /etc/security/limits.conf
echo "{{ name }} limits set"
