#!/bin/bash
{%- for group in aws.security_groups.split(",") %}
GROUP="{{ group }}" STRIPPED="{{ group.strip() }}"
{%- endfor %}
WORDS={{ aws.command.split()|length }} FIRST_FLAG={{ aws.command.split()[0] }}
{%- if aws.ami.startswith("ami-") %}
IMAGE_ID={{ aws.ami }}
{%- endif %}
{%- for volume in aws.volumes %}
{%- if volume.block.startswith("/dev/nvme") %}
# {{ volume.name }}: NVMe device {{ volume.block.split("/")[-1] }}
{%- elif volume.block.endswith("c") %}
# {{ volume.name }}: xvd device, letter {{ volume.block[-1] }}
{%- endif %}
{%- endfor %}
MOTD="{{ aws.motd.strip() }}" LEFT="{{ aws.motd.lstrip() }}" RIGHT="{{ aws.motd.rstrip() }}"
ACCOUNT={{ aws.policy_arn.split(":")[4] }} POLICY={{ aws.policy_arn.rsplit("/", 1)[1] }}
REPLACED={{ aws.command.replace("--", "-") }}
UPPER={{ name.upper() }} TITLE={{ name.title() }} CAP={{ "mongo db".capitalize() }}
FORMATTED={{ "%s-%03d"|format(name, 7) }}
JOIN={{ ",".join(["a", "b"]) }} FIND={{ name.find("ing") }} COUNT={{ "a-b-c".count("-") }}
NO_ESCAPING=<{{ "a & b" }}> '{{ "quote's" }}'
