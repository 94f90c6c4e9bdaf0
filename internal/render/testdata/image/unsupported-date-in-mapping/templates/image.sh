#!/bin/bash
# a date printed inside a mapping: {{ built }}
