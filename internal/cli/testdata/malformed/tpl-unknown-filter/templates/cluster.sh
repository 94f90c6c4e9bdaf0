#!/bin/bash
echo {{ name | nosuchfilter }}
