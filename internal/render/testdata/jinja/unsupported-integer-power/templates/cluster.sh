#!/bin/bash
POWER={{ 2 ** 10 }} SQUARE={{ aws.volume_gb ** 2 }}
