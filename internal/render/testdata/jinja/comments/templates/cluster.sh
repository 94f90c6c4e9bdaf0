#!/bin/bash
{# a comment on its own line leaves an empty line #}
{#
  a comment over
  several lines, with {{ undefined_variable }} and {% if %} inside
#}
echo "{{ name }}" {# a comment after code #}
{#- a trimming comment: removes the newline before it #}
echo "next" {#- trims the space before it #}
{#- trims both sides -#}
; echo "last"
# a shell comment is just text: {{ name }} {{ "{#" }} not a comment {{ "#}" }}
