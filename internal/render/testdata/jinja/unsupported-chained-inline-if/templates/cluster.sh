#!/bin/bash
NESTED={{ "a" if aws.nodes|length > 2 else "b" if aws.nodes|length > 1 else "c" }}
