{% import "macros.sh" as m -%}
{{ m.section("secrets") }}
{%- if secrets is defined %}
export AWS_DEFAULT_REGION={{ AWS_REGION }}
decrypt() {
  echo "$1" | base64 -d > /tmp/ciphertext.bin
  aws kms decrypt --ciphertext-blob fileb:///tmp/ciphertext.bin --output text --query Plaintext | base64 -d
  rm -f /tmp/ciphertext.bin
}
{%- for key, ciphertext in secrets.items() %}
{{ key }}="$(decrypt '{{ ciphertext }}')"
export {{ key }}
{%- endfor %}
{%- endif %}
