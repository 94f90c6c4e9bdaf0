#!/bin/bash
# bake for {{ cluster.name }}
