#!/bin/bash
SIZE={{ aws.ebs.size or 10 }}
