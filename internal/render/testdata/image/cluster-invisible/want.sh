#!/bin/bash
# only the image: mapping: cluster False, docker_compose False, _node_id False
# docker:1.10
