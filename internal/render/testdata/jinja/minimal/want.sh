#!/bin/bash
echo "booting minimal"
echo "only the cluster section is visible"
