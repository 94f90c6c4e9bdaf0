# common.sh from shared (shadowed by templates/common.sh)
