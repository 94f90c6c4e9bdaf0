package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// offlineTimeout bounds one offline run: a config error is found in
// milliseconds; a run that waits on the network is caught here too.
const offlineTimeout = 15 * time.Second

// TestIntegrationConfigErrorsOffline runs, on every malformed case whose
// expect.yml lists `offline` commands (`config`, `cluster plan`), each of
// those commands with no AWS credentials and AWS_ENDPOINT_URL pointing at a
// listener that counts connections: the command must exit 2 with the
// case's message (file:line and key), not a credentials or connection
// error, and connect to nothing. Configuration problems are found before
// any API call.
func TestIntegrationConfigErrorsOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary on malformed inputs")
	}
	endpoint, conns := countingListener(t)
	root := filepath.Join("testdata", "malformed")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		src := filepath.Join(root, e.Name())
		raw, err := os.ReadFile(filepath.Join(src, "expect.yml"))
		if err != nil {
			continue
		}
		var want malformedExpect
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s/expect.yml: %v", src, err)
		}
		for _, command := range want.Offline {
			n++
			t.Run(e.Name()+"/"+command, func(t *testing.T) {
				runOffline(t, src, strings.Fields(command), want, endpoint, conns)
			})
		}
	}
	if n < 40 {
		t.Errorf("%d offline runs; the corpus's configuration errors give at least 40", n)
	}
}

func runOffline(t *testing.T, src string, args []string, want malformedExpect, endpoint string, conns *atomic.Int64) {
	work := t.TempDir()
	proj := filepath.Join(work, filepath.Base(src))
	copyCase(t, src, proj)
	store := filepath.Join(work, "store")
	home := filepath.Join(work, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv()
	// no credentials, no profile: only the endpoint, which counts
	env = append(env, "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, "state"), "CLOUD_COMPOSE_LOCAL_DIR="+store,
		"AWS_ENDPOINT_URL="+endpoint, "AWS_REGION=us-east-1", "AWS_CONFIG_FILE="+filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"),
		"MAL_AMI=ami-0123456789abcdef0", "MAL_KEY=mal-key", "MAL_SG=sg-0123456789abcdef0", "MAL_SUBNET=subnet-0123456789abcdef0",
		"MAL_NET=10.77", "MAL_EIP=eipalloc-0123456789abcdef0")
	for k, v := range want.Env {
		env = append(env, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), offlineTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"-C", proj}, args...)...)
	cmd.Dir = work
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before := conns.Load()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("still running after %s (killed)", offlineTimeout)
	}
	t.Logf("exit %d\nstderr:\n%s", code, stderr.String())
	if code != 2 {
		t.Errorf("exit code %d, want 2 (a configuration error)", code)
	}
	if !regexp.MustCompile(want.Stderr).MatchString(stderr.String()) {
		t.Errorf("stderr does not match %q", want.Stderr)
	}
	if want.Key != "" && !strings.Contains(stderr.String(), want.Key) {
		t.Errorf("stderr does not name the key %s", want.Key)
	}
	for _, w := range []string{"credentials", "IMDS", "connection refused", "dial tcp", "operation error"} {
		if strings.Contains(stderr.String(), w) {
			t.Errorf("stderr mentions %q: the command reached for AWS before reporting the configuration", w)
		}
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout is not empty:\n%s", stdout.String())
	}
	if got := conns.Load() - before; got != 0 {
		t.Errorf("%d connections to the AWS endpoint; a configuration error is reported before any call", got)
	}
	if args[0] == "config" {
		if _, err := os.Lstat(store); !os.IsNotExist(err) {
			t.Errorf("config created the local store %s", store)
		}
	}
}

// countingListener accepts connections on a loopback port, counts and
// closes them, and returns its URL.
func countingListener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}
