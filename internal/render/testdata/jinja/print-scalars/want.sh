#!/bin/bash
# how YAML 1.1 scalars (as PyYAML reads them) print
int=42
negative=-7
plus=12
float=1.5
float_exponent=1500.0
exponent_without_sign=1e3
exponent_without_dot=1.5e3
trailing_dot=3.0
leading_dot=0.5
big_float=1e+20
version_36=3.6
version_310=3.1
version_quoted=3.10
bool_true=True
bool_True=True
bool_false=False
bool_yes=True
bool_no=False
bool_on=True
bool_off=False
bool_Yes=True
letter_y=y
letter_n=n
null_word=None
tilde=None
empty=None
octal=493
octal_0o=0o755
leading_zero=0755
zero_eight=08
hex=31
binary=5
underscores=1000
sexagesimal=90
large=9007199254740993
inf=inf
negative_inf=-inf
date=2016-01-02
datetime=2016-01-02 10:30:00
datetime_utc=2016-01-02 10:30:00+00:00
quoted_date=2016-01-02
quoted_true=true
single_quoted=it's
string=plain text
SUM=1566
PRODUCT=3.0
# yes/no/on/off are booleans
# empty and ~ are None
YEAR=2016 MONTH=1 HOUR=10
