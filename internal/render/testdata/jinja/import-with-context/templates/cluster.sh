#!/bin/bash
{% import "users.sh" as users with context -%}
{% from "users.sh" import home with context -%}
{{ users.add_user("deploy") }}
{{ users.add_user(aws.username) }}
echo "{{ home("deploy") }}"
