# docker.install.sh: docker {{ version }}, held at that version
yum install -y yum-versionlock docker-engine-{{ version }}.3
yum versionlock docker-engine-{{ version }}.3
systemctl enable docker
