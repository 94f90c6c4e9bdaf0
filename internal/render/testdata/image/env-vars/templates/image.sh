#!/bin/bash
# environment variables are top-level names: FOO={{ FOO }} REGION={{ REGION }}
# a key of image: shadows a variable: name={{ name }}
# environment: is not rendered nor exported: {{ environment }} {{ BAZ is defined }}
# search_path as templates see it: {{ search_path }}
