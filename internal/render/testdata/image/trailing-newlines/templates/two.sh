two trailing newlines

