# scripts/finish.sh from vendor/lib-docker
echo "{{ name }} finished"
