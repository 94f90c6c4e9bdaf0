# lib/common/base.sh (lib comes before vendor)
{% include "nested.sh" %}
