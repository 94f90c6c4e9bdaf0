package aws

import (
	"net/http"
	"net/url"
)

// Exports of the instance refresh fake, for the end-to-end rollout test
// in package aws_test.

// NewRefreshFake answers the instance refresh actions moto lacks and
// passes every other call to next.
func NewRefreshFake(next http.Handler) *RefreshFake { return &RefreshFake{f: &refreshFake{next: next}} }

// RefreshFake is refreshFake for package aws_test.
type RefreshFake struct{ f *refreshFake }

func (r *RefreshFake) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.f.ServeHTTP(w, req) }

// Take returns and forgets the forms of an action's requests.
func (r *RefreshFake) Take(action string) []url.Values { return r.f.take(action) }

// Set changes a refresh's status and percentage.
func (r *RefreshFake) Set(id, status string, percent int) { r.f.set(id, status, percent) }
