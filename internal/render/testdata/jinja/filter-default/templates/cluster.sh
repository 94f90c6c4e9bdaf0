#!/bin/bash
# undefined -> default, with or without the boolean argument
KEYPAIR={{ aws.keypair|default("default-key") }}
KEYPAIR2={{ aws.keypair|default("default-key", true) }}
TYPE_UNDEF={{ aws.missing_type|d("t2.medium") }}
# defined but falsy: only default(..., true) replaces it
TYPE="{{ aws.instance_type|default("t2.medium") }}"
TYPE_TRUE="{{ aws.instance_type|default("t2.medium", true) }}"
MONITORING={{ aws.detailed_monitoring|default(true) }}
MONITORING_TRUE={{ aws.detailed_monitoring|default(true, true) }}
IOPS={{ aws.iops|default(100) }} IOPS_TRUE={{ aws.iops|default(100, true) }}
# null (None) is defined: plain default keeps it
NAMESERVER={{ aws.dns.nameserver|default("10.0.0.2") }}
NAMESERVER_TRUE={{ aws.dns.nameserver|default("10.0.0.2", true) }}
OPTIONS={{ aws.volumes[0].meta.options|default("defaults,noatime", true) }}
EMPTY="{{ undefined_thing|default }}"
