#!/bin/bash
{% for key, value in aws.tags.iteritems() %}
TAG_{{ key }}={{ value }}
{% endfor %}
