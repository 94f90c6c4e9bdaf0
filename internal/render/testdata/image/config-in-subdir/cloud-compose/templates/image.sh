#!/bin/bash
# cloud-compose/templates/image.sh: not on the search path
