#!/bin/bash
{% include 'cluster.sh' %}
