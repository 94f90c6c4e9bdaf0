package lb

import (
	"fmt"
	"os"
	"path/filepath"
)

// maxSocketPath is the longest path a unix socket can be bound or reached
// at (sun_path is 108 bytes on Linux, with its terminating NUL).
const maxSocketPath = 107

// socketPath is where the control socket of dir is reached: the path
// itself, or — when it is too long for a unix socket (a deep store
// directory) — the same file through an open descriptor of dir,
// /proc/self/fd/N/control.sock. done closes that descriptor; call it once
// the socket is bound, or dialled, and no longer needed.
func socketPath(dir string) (path string, done func(), err error) {
	path = filepath.Join(dir, ControlSocket)
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, fmt.Errorf("control socket: %w", err)
	}
	short := fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), ControlSocket)
	return short, func() { d.Close() }, nil
}
