#!/bin/bash
{% include 'a.sh' %}
