#!/bin/bash
# dictsort sorts by key, case-insensitively
aws ec2 create-tags --tags Key=Application,Value=mongodb
aws ec2 create-tags --tags Key=env,Value=prod
aws ec2 create-tags --tags Key=Team,Value=platform
aws ec2 create-tags --tags Key=zone,Value=b
# case-sensitive: Application
# case-sensitive: Team
# case-sensitive: env
# case-sensitive: zone
# by value: b=zone
# by value: mongodb=Application
# by value: platform=Team
# by value: prod=env
IPS="10.0.3.10,10.0.1.10,10.0.2.10"
IDS="2 0 1"
NAMES="APPLICATION|ENV|TEAM|ZONE"
HOSTS="10.0.3.10:27017 10.0.1.10:27017 10.0.2.10:27017 "
