# one-newline.sh ends with one newline (dropped when loaded)
