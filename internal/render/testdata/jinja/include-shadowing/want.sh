#!/bin/bash
# cluster.sh from base
# docker.sh from overrides: the first directory on search_path wins
# mounts.sh from base (only here)
