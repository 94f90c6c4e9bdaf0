package testbin

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// peakRSS is the peakrss tool Main builds beside the binary ("" before).
var peakRSS string

// Measure makes cmd run under the small peakrss tool (internal/testbin/
// peakrss), which reports the command's peak resident memory: read it, in
// KiB, with the returned function after cmd has finished (0 if unknown).
//
// Why: os/exec starts processes with vfork, and Linux counts the memory
// high-water mark of the address space a process execs from — here the
// whole test process's — in the new program's ru_maxrss. From a small
// process the figure is the program's own. cmd must not have started.
func Measure(cmd *exec.Cmd) (peakKiB func() int64) {
	if peakRSS == "" {
		panic("testbin.Measure needs testbin.Main in TestMain")
	}
	f, err := os.CreateTemp("", "peak-rss-")
	if err != nil {
		return func() int64 { return 0 }
	}
	path := f.Name()
	f.Close()
	cmd.Args = append([]string{peakRSS, path}, cmd.Args...)
	cmd.Path = peakRSS
	return func() int64 {
		defer os.Remove(path)
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
}
