# extra.sh from shared
