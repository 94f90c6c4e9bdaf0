#!/bin/bash
# no trimming: block tags leave their lines (trim_blocks and lstrip_blocks are off)

  echo 10.0.1.10

  echo 10.0.2.10

# a minus at the start of a tag trims before it
  echo 10.0.1.10
  echo 10.0.2.10
# a minus at the end of a tag trims after it
echo 10.0.1.10
echo 10.0.2.10
# both sides[10.0.1.10][10.0.2.10]
# expressions too: awsb
x = tight
y = loose!
