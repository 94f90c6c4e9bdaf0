#!/bin/bash
# data: meta defined, snapshot snap-0123456789abcdef0
mount /dev/xvdc /data
# scratch: meta undefined, snapshot undefined
# empty: meta defined, snapshot undefined
# empty has an empty meta (None)
LOG_GROUP=/tests
# no secrets section
# retention not set
False False True True True True
