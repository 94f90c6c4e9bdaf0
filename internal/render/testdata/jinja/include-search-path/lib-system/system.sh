# system.sh from lib-system
{% include "system.limits.sh" %}
