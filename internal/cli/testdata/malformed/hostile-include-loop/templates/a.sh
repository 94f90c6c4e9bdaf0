{% include 'b.sh' %}
