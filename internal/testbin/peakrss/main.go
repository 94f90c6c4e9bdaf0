// Command peakrss runs a command and writes its peak resident memory (KiB,
// from wait4's rusage) into a file: peakrss OUT COMMAND [ARG...]. Tests
// start it instead of the command (testbin.Measure), because a process
// started by a large test process with vfork inherits that process's
// memory high-water mark in its own ru_maxrss; peakrss is small, so the
// figure it reports is the command's own. It exits with the command's exit
// code (128+signal when killed), forwards SIGINT and SIGTERM, and takes the
// command down with it if it is killed.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peakrss OUT COMMAND [ARG...]")
		os.Exit(125)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

// run runs args and returns its exit code (128+signal when killed).
func run(out string, args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "peakrss: nothing to measure")
		return 125
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		return 125
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	_ = cmd.Wait()
	st := cmd.ProcessState
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		_ = os.WriteFile(out, []byte(strconv.FormatInt(ru.Maxrss, 10)), 0o644)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}
