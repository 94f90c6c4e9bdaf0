package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cloud-compose/cloud-compose-go/internal/cli"
)

// NotifyContext returns a context cancelled by the first of sigs: the
// command stops cleanly (loading, rendering and cloud calls all watch it)
// and says what it left half-done. A second signal exits at once, through
// exit, with 128 + the signal's number, as a shell reports a killed
// command: an operator who presses Ctrl-C twice means it. stop releases
// the signals.
func NotifyContext(parent context.Context, stderr io.Writer, exit func(int), sigs ...os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		select {
		case first = <-ch:
		case <-done:
			return
		}
		fmt.Fprintf(stderr, "cloud-compose: %s: stopping cleanly; send it again to exit at once\n", signalName(first))
		cancel(&interruptedError{sig: first})
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "cloud-compose: %s again: exiting at once; what was under way may be half-done: run the command again to finish it\n", signalName(s))
			exit(exitCodeFor(s))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string { return "interrupted by " + signalName(e.sig) }
func (e *interruptedError) Unwrap() error { return context.Canceled }

func signalName(s os.Signal) string {
	if ss, ok := s.(syscall.Signal); ok {
		switch ss {
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGTERM:
			return "SIGTERM"
		}
	}
	return s.String()
}

func exitCodeFor(s os.Signal) int {
	if ss, ok := s.(syscall.Signal); ok {
		return 128 + int(ss)
	}
	return 130
}

// Message is the text to print for err: when a signal stopped the command,
// it starts by saying so.
func Message(ctx context.Context, err error) string {
	msg := err.Error()
	if cause := context.Cause(ctx); cause != nil && cli.IsInterrupted(err) && !strings.HasPrefix(msg, "interrupted") {
		var ie *interruptedError
		if e, ok := cause.(*interruptedError); ok {
			ie = e
		}
		if ie != nil {
			return ie.Error() + ": " + msg
		}
		return "interrupted: " + msg
	}
	return msg
}
