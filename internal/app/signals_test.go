package app

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The first signal cancels the context; the second exits at once with
// 128 + the signal number.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	var stderr syncBuffer
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
