#!/bin/bash
CHAINED=ec2-user
