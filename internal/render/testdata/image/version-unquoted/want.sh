#!/bin/bash
# version: 1.10 unquoted is the number 1.1 (YAML 1.1)
echo "docker:1.1"
echo "docker_1.1"
echo "1.1 True False"
echo "docker:1.1"
