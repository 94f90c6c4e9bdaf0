#!/bin/bash
{% include 'missing.sh' %}
