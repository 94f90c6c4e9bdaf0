# docker.sh from overrides: the first directory on search_path wins
