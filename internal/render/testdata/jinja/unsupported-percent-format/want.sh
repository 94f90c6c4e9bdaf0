#!/bin/bash
PERCENT=strings:27017
