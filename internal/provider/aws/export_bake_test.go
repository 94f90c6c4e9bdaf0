package aws

import (
	"testing"
	"time"
)

// SetBakePoll makes the bake waiters poll every d..2d for the test.
func SetBakePoll(t *testing.T, d time.Duration) {
	old := bakePoll
	bakePoll = [2]time.Duration{d, 2 * d}
	t.Cleanup(func() { bakePoll = old })
}
