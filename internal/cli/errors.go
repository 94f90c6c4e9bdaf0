package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// Exit codes.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // the operation failed
	ExitUsage  = 2 // usage or configuration error
)

// UsageError is a wrong command line: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an exit code. Silent ones have already said everything
// (an external plugin's own output, a table of failed nodes).
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var ue *UsageError
	var ce *config.Error
	var nf *config.NotFoundError
	var te *render.Error
	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &nf), errors.As(err, &te),
		errors.Is(err, provider.ErrNoProvider), errors.Is(err, render.ErrUserDataTooLarge):
		return ExitUsage
	}
	return ExitFailed
}

// IsSilent reports whether the error was already reported.
func IsSilent(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Silent
}

// scrubbed returns err with every known secret (config.KnownSecrets)
// masked in its message; errors.Is/As still see the original chain, so the
// exit code is the same. Every error the program prints comes from Execute,
// so this is the one place where errors are scrubbed.
func scrubbed(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{err}
}

type scrubbedError struct{ err error }

func (e *scrubbedError) Error() string { return config.KnownSecrets.Scrub(e.err.Error()) }
func (e *scrubbedError) Unwrap() error { return e.err }

// IsInterrupted reports whether err is a command stopped by a signal.
func IsInterrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, config.ErrInterrupted) || errors.Is(err, render.ErrInterrupted)
}
