#!/bin/bash
# image.sh from '.', the first directory of the search path

# lib/common/base.sh (lib comes before vendor)
# vendor/nested.sh, included from lib/common/base.sh by its bare name
# vendor/vendor-only.sh for base
yum install -y git curl lvm2

command -v git >/dev/null

command -v curl >/dev/null

command -v lvm2 >/dev/null

