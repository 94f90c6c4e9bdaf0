#!/bin/bash
# role mongodb on dynamic (the loop variable is visible, `loop` itself is not: False)
# role monitoring

# roles/default.sh: the first existing name of the list
# role monitoring
