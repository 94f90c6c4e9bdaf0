package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Candidates are the places a config file is looked for, in order, relative
// to the project directory: the Python original's order.
var Candidates = []string{
	"cloud-compose/cloud-compose.yml",
	"cloud-compose/cloud-compose.yaml",
	"cloud-compose.yml",
	"cloud-compose.yaml",
}

// ErrNotFound is returned (wrapped in *NotFoundError) when no config file exists.
var ErrNotFound = errors.New("no cloud-compose.yml found")

// NotFoundError names every place that was looked at.
type NotFoundError struct {
	Dir    string
	Looked []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no configuration file in %s; looked for:\n  %s", e.Dir, strings.Join(e.Looked, "\n  "))
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Find returns the config file to use: file if given (relative to dir),
// otherwise the first candidate that exists under dir.
func Find(dir, file string) (string, error) {
	if file != "" {
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		if _, err := os.Stat(file); err != nil {
			return "", &NotFoundError{Dir: dir, Looked: []string{file}}
		}
		return file, nil
	}
	looked := make([]string, 0, len(Candidates))
	for _, c := range Candidates {
		p := filepath.Join(dir, c)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		looked = append(looked, p)
	}
	return "", &NotFoundError{Dir: dir, Looked: looked}
}
