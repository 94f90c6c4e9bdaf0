#!/bin/bash
# a date printed inside a mapping: {'date': datetime.date(2016, 1, 2)}
