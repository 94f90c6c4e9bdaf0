# common.sh from templates
