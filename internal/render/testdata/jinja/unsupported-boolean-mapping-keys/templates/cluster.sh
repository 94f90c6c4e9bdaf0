#!/bin/bash
TRIGGERS="{{ aws.triggers }}" ON={{ aws.triggers[true] }}
