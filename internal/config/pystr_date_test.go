package config

import (
	"testing"
	"time"
)

// str() of a YAML date is its ISO form; repr() (inside a list or a
// mapping) is Python's constructor call — as the original printed them.
func TestPyStrDate(t *testing.T) {
	d := Date{time.Date(2016, 1, 2, 0, 0, 0, 0, time.UTC)}
	if got := PyStr(d); got != "2016-01-02" {
		t.Errorf("PyStr(date) = %q, want 2016-01-02", got)
	}
	if got := PyStr([]any{d}); got != "[datetime.date(2016, 1, 2)]" {
		t.Errorf("PyStr([date]) = %q", got)
	}
}
