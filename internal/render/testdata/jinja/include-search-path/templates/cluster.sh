#!/bin/bash
{% include "system.sh" %}
{% include "docker.sh" %}
{% include "scripts/finish.sh" %}
