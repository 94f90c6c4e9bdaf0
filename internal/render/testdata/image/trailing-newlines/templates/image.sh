#!/bin/bash
{% include "two.sh" %}
{% include "none.sh" %}
end


