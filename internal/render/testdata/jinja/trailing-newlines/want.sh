#!/bin/bash
# one-newline.sh ends with one newline (dropped when loaded)
# two-newlines.sh ends with two newlines (only the last is dropped)

# no-newline.sh has no newline at the end
echo "end of trailing"


