package app

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// The first signal cancels the context; the second exits at once with
// 128 + the signal number.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	var stderr testbin.Buffer
	exited := make(chan int, 1)
	ctx, stop := NotifyContext(context.Background(), &stderr, func(code int) { exited <- code }, syscall.SIGUSR1)
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the first signal did not cancel the context")
	}
	if !strings.Contains(stderr.String(), "stopping cleanly; send it again to exit at once") {
		t.Errorf("stderr: %q", stderr.String())
	}
	err := errors.Join(errors.New("read configuration x.yml"), config.ErrInterrupted, context.Canceled)
	if got := Message(ctx, err); !strings.HasPrefix(got, "interrupted by user defined signal 1: read configuration") {
		t.Errorf("message: %q", got)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 128+int(syscall.SIGUSR1) {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the second signal did not exit")
	}
	if !strings.Contains(stderr.String(), "again: exiting at once") {
		t.Errorf("stderr: %q", stderr.String())
	}
}
