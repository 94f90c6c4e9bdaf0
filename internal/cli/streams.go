package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are where a command reads and writes. Commands never touch
// os.Stdout: human output goes to Out, progress and logs to ErrOut, and
// `-o json` prints one JSON document to Out.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// isTerminal reports whether w is a terminal (for prompts and live progress).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
