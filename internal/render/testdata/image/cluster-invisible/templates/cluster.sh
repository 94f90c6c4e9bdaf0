#!/bin/bash
# the cluster's script, not the image's
