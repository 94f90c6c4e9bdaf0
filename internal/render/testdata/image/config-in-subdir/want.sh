#!/bin/bash
# templates/ of the project directory, not cloud-compose/templates/
