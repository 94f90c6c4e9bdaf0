# docker.sh from vendor/lib-docker
systemctl start docker
