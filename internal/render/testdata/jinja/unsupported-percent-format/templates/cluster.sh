#!/bin/bash
PERCENT={{ "%s:%d" % (name, 27017) }}
