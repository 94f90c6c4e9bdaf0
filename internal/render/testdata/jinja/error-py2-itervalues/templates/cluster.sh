#!/bin/bash
VALUES="{% for value in aws.tags.itervalues() %}{{ value }} {% endfor %}"
