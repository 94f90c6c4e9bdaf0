// Package testbin builds the cloud-compose binary once for a test binary,
// for tests that run real processes (the local provider's supervisors, the
// quickstart end to end). It is imported only by tests.
package testbin

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Main is a TestMain body: unless -short, it builds cmd/cloud-compose into
// a temporary directory, calls use with its path, runs the tests, and
// removes the directory.
func Main(m *testing.M, use func(binary string)) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tmp, err := os.MkdirTemp("", "cloud-compose-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary := filepath.Join(tmp, "cloud-compose")
	peakRSS = filepath.Join(tmp, "peakrss")
	err = build(binary, "./cmd/cloud-compose")
	if err == nil {
		err = build(peakRSS, "./internal/testbin/peakrss")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	use(binary)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func build(binary, pkg string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	cmd := exec.Command("go", "build", "-o", binary, pkg)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// Processes returns the live (not zombie) processes whose command line or
// environment mentions s, read from the process table (Linux /proc), so
// tests check what really runs, not what a store says.
func Processes(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := "/proc/" + e.Name()
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		cmdline = bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})
		environ, _ := os.ReadFile(dir + "/environ")
		if !bytes.Contains(cmdline, []byte(s)) && !bytes.Contains(environ, []byte(s)) {
			continue
		}
		stat, _ := os.ReadFile(dir + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// KillAll SIGKILLs every process Processes(s) finds, until none is left
// (or about a second has passed), and returns those it found first.
// Tests call it in cleanup so a failing test leaves nothing running.
func KillAll(s string) []int {
	found := Processes(s)
	for range 50 {
		left := Processes(s)
		if len(left) == 0 {
			break
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return found
}
