#!/bin/bash
# what StrictUndefined lets through: the last name, attribute or item of a
# chain may be undefined in a test or a filter
NAME_DEFINED=False
NAME_NOT_DEFINED=True
ATTR_DEFINED=False
ITEM_DEFINED=False
TAG_DEFINED=True
NAME_DEFAULT=us-east-1a
ATTR_DEFAULT=none
ITEM_DEFAULT=100
NAME_IS_NONE=False
ATTR_IS_STRING=False
GUARDED=no
SHORT_OR=t3.small
SHORT_AND=False
INLINE_IF=unset

