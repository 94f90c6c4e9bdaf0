#!/bin/bash
# every environment variable is a top-level name, unless the config has that key
DEPLOY_ENV=staging
NAME=env-vars
BUILD=0042 BUILD_INT=42
TEAM_1=a
TEAM_2=b
TEAM_3=c
# UNSET_VARIABLE is not defined
OPTIONAL=fallback
