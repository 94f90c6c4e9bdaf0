#!/bin/bash
FAMILY=r4 SIZE=large
