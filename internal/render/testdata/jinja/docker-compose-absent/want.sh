#!/bin/bash
# docker_compose={}
echo "no docker-compose.yml"
echo "no docker-compose.override.yml"
