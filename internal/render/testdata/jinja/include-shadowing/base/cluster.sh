#!/bin/bash
# cluster.sh from base
{% include "docker.sh" %}
{% include "mounts.sh" %}
