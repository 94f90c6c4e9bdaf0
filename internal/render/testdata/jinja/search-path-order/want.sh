#!/bin/bash
# cluster.sh from the project directory: '.' is searched before search_path
# search_path as templates see it: ['.', '.', 'templates', 'shared']
# its length: 4
# common.sh from templates
# extra.sh from shared
