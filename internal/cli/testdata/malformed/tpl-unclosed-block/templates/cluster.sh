#!/bin/bash
{% for x in [1, 2] %}
echo {{ x }}
