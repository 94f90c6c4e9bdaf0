#!/bin/bash
# numbers that do not compress well: the packed user data exceeds EC2's 16384 bytes
{% for i in range(20000) %}{{ (i * 7919) % 104729 }} {% endfor %}
