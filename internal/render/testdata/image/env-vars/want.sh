#!/bin/bash
# environment variables are top-level names: FOO=bar REGION=us-east-1
# a key of image: shadows a variable: name=app
# environment: is not rendered nor exported: {'BAZ': '{{ FOO }}-baz'} False
# search_path as templates see it: ['.', 'templates']
