#!/bin/bash
echo {{ nope }}
