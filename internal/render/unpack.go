package render

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Unpack returns the boot script inside user data made by Pack: the script
// itself, or what the gzip wrapper decodes to.
func Unpack(userData string) (string, error) {
	const head, tail = "#!/bin/bash\necho '", "' | base64 -d | gunzip | /bin/bash"
	if !strings.HasPrefix(userData, head) || !strings.HasSuffix(userData, tail) {
		return userData, nil
	}
	b, err := base64.StdEncoding.DecodeString(userData[len(head) : len(userData)-len(tail)])
	if err != nil {
		return "", fmt.Errorf("unpack user data: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("unpack user data: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return "", fmt.Errorf("unpack user data: %w", err)
	}
	return string(out), nil
}
