#!/bin/bash
# only the image: mapping: cluster {{ cluster is defined }}, docker_compose {{ docker_compose is defined }}, _node_id {{ _node_id is defined }}
# {{ name }}:{{ version }}
