# packages.install.sh
yum install -y epel-release
yum upgrade -y
yum install -y lvm2 git jq
