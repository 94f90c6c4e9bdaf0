// Package benchutil holds what the benchmarks under bench/ share: a copy
// of examples/quickstart to run (Quickstart), the CLI runner, the
// cloud-compose binary to benchmark, and decoding a rollout's result.
package benchutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

// Run runs args in dir with env and returns stdout, stderr, the wall time
// from spawn to exit and the error.
func Run(dir string, env, args []string) (string, string, time.Duration, error) {
	return RunContext(context.Background(), dir, env, args)
}

// RunContext is Run, the process killed when ctx is done.
func RunContext(ctx context.Context, dir string, env, args []string) (string, string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	return out.String(), errOut.String(), time.Since(start), err
}

// Setup is a benchmark's start: the repository's root, a new temporary
// directory (os.MkdirTemp's pattern tmpPattern) and the cloud-compose
// binary, bin made absolute or, when bin is "", built from
// cmd/cloud-compose into the temporary directory (logf says so first).
func Setup(tmpPattern, bin string, logf func(format string, args ...any)) (root, tmp, binary string, err error) {
	if root, err = RepoRoot(); err != nil {
		return "", "", "", err
	}
	if tmp, err = os.MkdirTemp("", tmpPattern); err != nil {
		return "", "", "", err
	}
	if bin != "" {
		bin, err = filepath.Abs(bin)
		return root, tmp, bin, err
	}
	bin = filepath.Join(tmp, "cloud-compose")
	logf("building %s", bin)
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "cloud-compose")).CombinedOutput(); err != nil {
		return root, tmp, "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return root, tmp, bin, nil
}

// RepoRoot is the root of the git checkout the benchmark runs in.
func RepoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("run from inside the repository: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// DecodeRollout decodes `cluster rollout -o json` and checks the rollout
// completed with each of its n nodes done and timed.
func DecodeRollout(out string, n int) (*cluster.RolloutResult, error) {
	var res cluster.RolloutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, fmt.Errorf("rollout -o json: %w\n%s", err, out)
	}
	if !res.Complete || len(res.Nodes) != n {
		return &res, fmt.Errorf("rollout not complete (%d nodes): %s", len(res.Nodes), out)
	}
	for _, nd := range res.Nodes {
		if nd.State != cluster.StateDone || nd.Timings == nil {
			return &res, fmt.Errorf("node %s: state %s, timings %v", nd.ID, nd.State, nd.Timings)
		}
	}
	return &res, nil
}

// Median is the median of xs, 0 when there are none.
func Median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
