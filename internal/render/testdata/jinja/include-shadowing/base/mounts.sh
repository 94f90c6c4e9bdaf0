# mounts.sh from base (only here)
