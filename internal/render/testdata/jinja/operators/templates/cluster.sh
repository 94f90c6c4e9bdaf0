#!/bin/bash
IOPS={{ aws.volume_gb * aws.iops_per_gb }}
HALF={{ aws.volume_gb / 2 }} THIRD={{ aws.volume_gb / 3 }} FLOOR={{ aws.volume_gb // 3 }} MOD={{ aws.volume_gb % 7 }}
MINUS={{ aws.volume_gb - 150 }} FLOAT={{ 0.1 + 0.2 }} ROUND={{ (aws.volume_gb / 3)|round(2) }}
CONCAT={{ name ~ "-" ~ aws.volume_gb }} PLUS_STRINGS={{ "a" + "b" }}
MAJORITY={{ (aws.nodes|length // 2) + 1 }}
{{ aws.volume_gb > 50 }} {{ aws.volume_gb == 100 }} {{ aws.volume_gb != 100 }} {{ 1 < 2 < 3 }}
{{ "operators" in name }} {{ 5 in [1, 5] }} {{ "x" not in "abc" }}
{{ aws.missing_key is defined and aws.missing_key > 1 }} {{ aws.volume_gb or 10 }} {{ 0 or "zero" }} {{ none and 1 }}
{{ not aws.nodes }} {{ -aws.volume_gb }} {{ [1, 2] + [3] }} {{ "ab" * 3 }}
