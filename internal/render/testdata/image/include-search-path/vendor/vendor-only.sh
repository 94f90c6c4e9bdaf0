# vendor/vendor-only.sh for {{ name }}
