#!/bin/bash
NESTED=b
