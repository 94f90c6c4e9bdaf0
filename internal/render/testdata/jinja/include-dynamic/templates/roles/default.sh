# roles/default.sh: the first existing name of the list
