#!/bin/bash
TAGS="{% for key in aws.tags.iterkeys() %}{{ key }} {% endfor %}"
