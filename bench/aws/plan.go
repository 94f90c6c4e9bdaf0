package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
)

// Issue 8's budget for `cluster plan` on AWS without --diff: the
// instances, the image, the snapshots, whatever N.
const planMaxCalls = 3

// planTarget is issue 8's target for plan's wall time without --diff at
// N = 30; logged, not enforced (a wall time on a shared machine is not an
// invariant).
const (
	planTarget  = time.Second
	planTargetN = 30
)

// planCase is one `cluster plan` timed after up converged: on the
// converged cluster (every node unchanged), and after a template line
// changed (every node replace, because of user_data), each without and
// with --diff; --diff reads the user data of each replaced node.
type planCase struct{ replace, diff bool }

var planCases = []planCase{{false, false}, {false, true}, {true, false}, {true, true}}

func (c planCase) String() string {
	s := "converged"
	if c.replace {
		s = "all replace"
	}
	if c.diff {
		s += ", --diff"
	}
	return s
}

// plans are the measures of planCases, in order, and what broke the
// invariants.
type plans struct {
	m          [4]measure
	violations []string
}

// planLine is what the bench appends to the boot script to make every
// node's user data differ from what it runs.
const planLine = "echo plan bench: a new line"

// benchPlans runs planCases in dir through step (which times a command
// and counts its calls at the proxy), checks each against the invariants
// and what it must show, and restores the template.
func benchPlans(dir string, n int, step func(*measure, []string) string, plan []string) plans {
	var p plans
	bad := func(c planCase, format string, args ...any) {
		p.violations = append(p.violations, fmt.Sprintf("plan (%s): ", c)+fmt.Sprintf(format, args...))
	}
	tmpl := filepath.Join(dir, "templates", "cluster.sh")
	script, err := os.ReadFile(tmpl)
	if err != nil {
		p.violations = append(p.violations, err.Error())
		return p
	}
	defer os.WriteFile(tmpl, script, 0o644)
	for i, c := range planCases {
		if c.replace {
			if err := os.WriteFile(tmpl, []byte(string(script)+planLine+"\n"), 0o644); err != nil {
				bad(c, "%v", err)
				continue
			}
		}
		args := plan
		if c.diff {
			args = append(append([]string{}, plan...), "--diff")
		}
		m := &p.m[i]
		out := step(m, args)
		if m.err != nil {
			bad(c, "%v", m.err)
			continue
		}
		if mut := mutating(m.calls); len(mut) > 0 {
			bad(c, "mutating calls %s", awstest.Describe(mut))
		}
		if total := awstest.Total(m.calls); !c.diff && total > planMaxCalls {
			bad(c, "%d calls, more than %d: %s", total, planMaxCalls, awstest.Describe(m.calls))
		}
		var got cluster.Plan
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			bad(c, "-o json: %v\n%s", err, out)
			continue
		}
		want, have := n, got.Summary.Unchanged
		if c.replace {
			have = got.Summary.Replace
		}
		if have != want || len(got.Changes) != n {
			bad(c, "summary %+v for %d nodes", got.Summary, n)
		}
		for _, ch := range got.Changes {
			if c.replace && c.diff && !strings.Contains(ch.Diff, "+"+planLine) {
				bad(c, "node %s: the diff does not show the new line", ch.Node)
			}
			if !c.diff && ch.Diff != "" {
				bad(c, "node %s: a diff without --diff", ch.Node)
			}
		}
	}
	return p
}

// mutating keeps the calls that are not Describe*/Get*/List*.
func mutating(calls map[string]int) map[string]int {
	out := map[string]int{}
	for act, k := range calls {
		if awstest.Mutating(act) && k > 0 {
			out[act] = k
		}
	}
	return out
}

// planTable is the Go binary's plan after up converged, with a row saying
// the Python original has no plan where it ran.
func planTable(rs []result) string {
	var b strings.Builder
	b.WriteString("\n| N | impl | plan | calls | plan --diff | calls | all replace: plan | calls | all replace: plan --diff | calls | mutating calls | invariants |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if r.tool != "go" {
			fmt.Fprintf(&b, "| %d | %s | no `cluster plan` | – | – | – | – | – | – | – | – | – |\n", r.n, r.tool)
			continue
		}
		fmt.Fprintf(&b, "| %d | %s |", r.n, r.tool)
		mut := 0
		for _, m := range r.plans.m {
			fmt.Fprintf(&b, " %.2f s | %d |", m.wall.Seconds(), awstest.Total(m.calls))
			mut += awstest.Total(mutating(m.calls))
		}
		ok := "held"
		if len(r.plans.violations) > 0 {
			ok = fmt.Sprintf("**%d violated**", len(r.plans.violations))
		}
		fmt.Fprintf(&b, " %d | %s |\n", mut, ok)
	}
	return b.String()
}
