package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/lb"
)

// lbEnv is a second load balancer proxy for experiments (-lb-env): the
// same binary's `__lb-proxy` with the flags the local provider gives it,
// but an environment of ours (GOMAXPROCS, GOGC, GODEBUG…: the provider
// passes the proxy only PATH, HOME and the like), the nodes registered
// over its control socket as the provider does.
type lbEnv struct {
	addr, dir string
	cmd       *exec.Cmd
}

func startLBEnv(bin, dir, listen string, env []string, nodes []string) (*lbEnv, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(bin, lb.Command, "--dir", dir, "--listen", listen, "--health-path", "/health", "--health-port", "8080")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &lbEnv{addr: listen, dir: dir, cmd: cmd}
	c := lb.Client{Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for c.Alive(ctx) != nil {
		if ctx.Err() != nil {
			l.stop()
			return nil, fmt.Errorf("the -lb-env proxy on %s does not answer on its control socket", listen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range nodes {
		if err := c.Register(ctx, n, 10*time.Second); err != nil {
			l.stop()
			return nil, fmt.Errorf("the -lb-env proxy: register %s: %w", n, err)
		}
	}
	logf("lb-env: %s %s on %s (%s)", strings.Join(env, " "), lb.Command, listen, dir)
	return l, nil
}

func (l *lbEnv) pid() int { return l.cmd.Process.Pid }

func (l *lbEnv) stop() { terminate(l.cmd, 15*time.Second) }

// gcTrace reads the -lb-env proxy's log from offset on for the lines
// GODEBUG=gctrace=1 writes ("gc N @Ts P%: a+b+c ms clock, …"): it returns
// the new offset, the number of collections, and their concurrent mark
// and stop-the-world times (ms).
func (l *lbEnv) gcTrace(offset int64) (next int64, n int, mark, stw []float64) {
	b, err := os.ReadFile(filepath.Join(l.dir, "log"))
	if err != nil || int64(len(b)) < offset {
		return offset, 0, nil, nil
	}
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		m := gcLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a, _ := strconv.ParseFloat(m[1], 64)
		mk, _ := strconv.ParseFloat(m[2], 64)
		c, _ := strconv.ParseFloat(m[3], 64)
		n++
		mark = append(mark, mk)
		stw = append(stw, a+c)
	}
	return int64(len(b)), n, mark, stw
}

var gcLine = regexp.MustCompile(`^gc \d+ @[\d.]+s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock`)
