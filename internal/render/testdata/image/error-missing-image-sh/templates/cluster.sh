#!/bin/bash
# a cluster script, but no image.sh anywhere on the search path
