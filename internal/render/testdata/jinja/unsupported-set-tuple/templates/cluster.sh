#!/bin/bash
{%- set family, size = aws.instance_type.split(".") %}
FAMILY={{ family }} SIZE={{ size }}
