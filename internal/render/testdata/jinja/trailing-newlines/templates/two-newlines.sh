# two-newlines.sh ends with two newlines (only the last is dropped)

