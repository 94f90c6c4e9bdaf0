#!/bin/bash
# secrets.environment.sh
AWS_REGION="us-west-2"
MONGODB_ADMIN_PASSWORD=$(aws kms decrypt --region $AWS_REGION --ciphertext-blob fileb://<(echo 'AQICAHiLEJCgMO5bz+iTCHvKONy2BdaXWn/Zb1k3K+c6Qr3/H+JXvjvJ/YBK9cP0AbBTnQ/zF5AbpbqFb/qtwxwLdjZP574OCZg==' | base64 -d) --output text --query Plaintext | base64 -d)
DATADOG_API_KEY=$(aws kms decrypt --region $AWS_REGION --ciphertext-blob fileb://<(echo 'AQICAHj+xd4MotGKYsXCX3QZs6/TlEBsRZKfe9xaSafo0HGkS/px3vJ4y3cdUBGKtsnpR8z3H1I5rbmeFHOO2bODovcaWD2u==' | base64 -d) --output text --query Plaintext | base64 -d)
MONGODB_KEYFILE=$(aws kms decrypt --region $AWS_REGION --ciphertext-blob fileb://<(echo 'AQICAHgpzHasZRFUcWVUdGN3I7E/vrRKmAmCbxnquVgzKJd3Lmwy3IVKw7R/b4r1pRv9cuSbrIpbU5i3r9Ipa5YclW5+==' | base64 -d) --output text --query Plaintext | base64 -d)
AUTH_ENABLED=true
# 3 secrets: DATADOG_API_KEY, MONGODB_ADMIN_PASSWORD, MONGODB_KEYFILE
