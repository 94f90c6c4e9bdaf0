#!/bin/bash
# cluster.sh from templates (never used: ./cluster.sh wins)
