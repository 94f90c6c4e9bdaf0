#!/bin/bash


echo "comments" 
echo "next"; echo "last"
# a shell comment is just text: comments {# not a comment #}
