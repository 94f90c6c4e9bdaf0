#!/bin/bash
# version: 1.10 unquoted is the number 1.1 (YAML 1.1)
echo "{{ name }}:{{ version }}"
echo "{{ name }}_{{ version }}"
echo "{{ version|string }} {{ version is number }} {{ version is string }}"
echo "{{ [name, version]|join(':') }}"
