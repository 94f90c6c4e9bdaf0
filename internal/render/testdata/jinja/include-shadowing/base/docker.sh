# docker.sh from base (shadowed by overrides/docker.sh)
