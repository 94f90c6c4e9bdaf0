#!/bin/bash
YEAR={{ values.date.year }} MONTH={{ values.date.month }} HOUR={{ values.datetime.hour }}
