#!/bin/bash

# tag Team=data

# tag CostCenter=1234

# tag Backup=True

# tag Since=2016-01-02

# tag Ratio=0.5

# tag Empty=None

# security groups: ['sg-1', 'sg-2']
# monitoring True, ebs optimized False
# instance type t2.micro (no default filled in: False)
# [('Backup', True), ('CostCenter', 1234), ('Empty', None), ('Ratio', 0.5), ('Since', datetime.date(2016, 1, 2)), ('Team', 'data')]
