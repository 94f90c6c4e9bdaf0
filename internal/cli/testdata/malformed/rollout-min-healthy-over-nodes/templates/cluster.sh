#!/bin/bash
echo node {{ _node_id }} of {{ name }}
