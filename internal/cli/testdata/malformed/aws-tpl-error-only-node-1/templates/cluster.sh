#!/bin/bash
{% if _node_id == 1 %}{{ nope }}{% endif %}
echo ok
