package quickstart_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// setImageScript writes the project's templates/image.sh.
func (q *quickstart) setImageScript(script string) {
	q.t.Helper()
	if err := os.WriteFile(filepath.Join(q.dir, "templates", "image.sh"), []byte(script), 0o644); err != nil {
		q.t.Fatal(err)
	}
}

type imageRow struct {
	ID, Name string
}

func (q *quickstart) images(name string) []imageRow {
	q.t.Helper()
	var all, out []imageRow
	if err := json.Unmarshal([]byte(q.must("-o", "json", "image", "ls")), &all); err != nil {
		q.t.Fatal(err)
	}
	for _, i := range all {
		if i.Name == name {
			out = append(out, i)
		}
	}
	return out
}

// bake runs `image up -o json` and returns the image it registered.
func (q *quickstart) bake() imageRow {
	q.t.Helper()
	var res struct {
		Image struct {
			ID, Name string
			Created  *string
		}
	}
	out := q.must("-o", "json", "image", "up")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		q.t.Fatalf("image up -o json: %v\n%s", err, out)
	}
	if res.Image.Name != "quickstart-base:1" || !strings.HasPrefix(res.Image.ID, "img-") || res.Image.Created == nil {
		q.t.Fatalf("image up -o json: %s", out)
	}
	return imageRow{ID: res.Image.ID, Name: res.Image.Name}
}

// readGlob reads the files matching pattern, trimmed.
func readGlob(t *testing.T, pattern string) []string {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

// TestIntegrationImageBake bakes through the binary: a script that writes a
// file registers quickstart-base:1 whose directory has the file; a failing script
// registers nothing and exits 1 with its log's tail; then the loop: a
// cluster on quickstart-base:1, a second bake, plan --upgrade-image shows replace
// (image), rollout --upgrade-image moves the nodes to the new image.
func TestIntegrationImageBake(t *testing.T) {
	q := newQuickstart(t, func(src string) string {
		return strings.Replace(src, "    image: empty                  # the built-in image", "    image: quickstart-base:1      # the baked image", 1)
	})
	// the shipped image.sh, as the README runs it
	shipped := q.bake()
	if got := readGlob(t, filepath.Join(q.store, "images", "quickstart-base:1", "*", "etc", "baked")); len(got) != 1 || !strings.HasPrefix(got[0], "quickstart-base:1, baked 20") {
		t.Fatalf("the shipped bake's etc/baked: %q", got)
	}
	q.setImageScript("#!/bin/bash\nset -e\necho baking in \"$PWD\"\necho one > baked.txt\necho done\n")

	img1 := q.bake()
	if img1.ID == shipped.ID {
		t.Fatal("the second bake has the first's id")
	}
	// nothing used the shipped bake: img1's bake removed it (image ls below)
	if got := q.images("quickstart-base:1"); len(got) != 1 || got[0].ID != img1.ID {
		t.Fatalf("image ls after the bake: %+v", got)
	}
	if got := readGlob(t, filepath.Join(q.store, "images", "quickstart-base:1", "*", "baked.txt")); len(got) != 1 || got[0] != "one" {
		t.Fatalf("the baked image's baked.txt: %q", got)
	}

	// a failing script: nothing registered, exit 1, the log's tail
	q.setImageScript("#!/bin/bash\necho step one\necho the package is missing >&2\nexit 3\n")
	out, errOut, code := q.run("image", "up")
	if code != 1 || !strings.Contains(errOut, "the package is missing") || !strings.Contains(errOut, "exited with code 3") || out != "" {
		t.Fatalf("failing bake: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if got := q.images("quickstart-base:1"); len(got) != 1 || got[0].ID != img1.ID {
		t.Fatalf("image ls after a failed bake: %+v", got)
	}
	if dirs, _ := filepath.Glob(filepath.Join(q.store, "images", "quickstart-base:1", "*")); len(dirs) != 1 {
		t.Fatalf("image directories after a failed bake: %v", dirs)
	}

	// the loop
	q.up()
	if got := readGlob(t, filepath.Join(q.store, "instances", "*", "root", "baked.txt")); strings.Join(got, ",") != "one,one,one" {
		t.Fatalf("nodes' baked.txt: %q", got)
	}
	q.setImageScript("#!/bin/bash\necho two > baked.txt\n")
	img2 := q.bake()
	if img2.ID == img1.ID {
		t.Fatal("the second bake has the first's id")
	}
	// the cluster runs img1: image ls says so, and the bake kept it
	var ls []struct {
		ID     string   `json:"id"`
		UsedBy []string `json:"used_by"`
	}
	if err := json.Unmarshal([]byte(q.must("-o", "json", "image", "ls", "quickstart-base")), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].ID != img2.ID || len(ls[0].UsedBy) != 0 || ls[1].ID != img1.ID || strings.Join(ls[1].UsedBy, ",") != "cluster quickstart (3 instances)" {
		t.Fatalf("image ls demo: %+v", ls)
	}
	if p, code := q.plan("--detailed-exitcode"); code != 0 || rows(p) != "0=unchanged 1=unchanged 2=unchanged" {
		t.Fatalf("plan without --upgrade-image: exit %d, %s", code, rows(p))
	}
	if p, code := q.plan("--detailed-exitcode", "--upgrade-image"); code != 3 || rows(p) != "0=replace(image) 1=replace(image) 2=replace(image)" {
		t.Fatalf("plan --upgrade-image: exit %d, %s", code, rows(p))
	}
	res, errOut, code := q.rollout("--upgrade-image")
	if code != 0 || !res.Complete {
		t.Fatalf("rollout --upgrade-image: exit %d, %+v\n%s", code, res, errOut)
	}
	if p, code := q.plan("--detailed-exitcode", "--upgrade-image"); code != 0 || rows(p) != "0=unchanged 1=unchanged 2=unchanged" {
		t.Fatalf("plan --upgrade-image after the rollout: exit %d, %s", code, rows(p))
	}
	var st struct{ Nodes []statusRow }
	if err := json.Unmarshal([]byte(q.must("-o", "json", "cluster", "status")), &st); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		b, err := os.ReadFile(filepath.Join(q.store, "instances", n.InstanceID, "root", "baked.txt"))
		if err != nil || strings.TrimSpace(string(b)) != "two" {
			t.Errorf("node %s (%s): baked.txt %q %v", n.ID, n.InstanceID, b, err)
		}
	}
	q.downForce()

	// nothing uses img1 or img2 now: a third bake removes both (--keep 1,
	// the original's rule), --keep 2 would have kept img3's predecessor
	q.setImageScript("#!/bin/bash\necho three > baked.txt\n")
	var third struct {
		Image   struct{ ID string }
		Removed []string
	}
	if err := json.Unmarshal([]byte(q.must("-o", "json", "image", "up")), &third); err != nil {
		t.Fatal(err)
	}
	if strings.Join(third.Removed, ",") != img2.ID+","+img1.ID {
		t.Fatalf("third bake removed %v, want %s,%s", third.Removed, img2.ID, img1.ID)
	}
	if got := q.images("quickstart-base:1"); len(got) != 1 || got[0].ID != third.Image.ID {
		t.Fatalf("image ls after the third bake: %+v", got)
	}
	if dirs, _ := filepath.Glob(filepath.Join(q.store, "images", "quickstart-base:1", "*")); len(dirs) != 1 {
		t.Fatalf("image directories after the cleanup: %v", dirs)
	}
}

// TestIntegrationImageBakeInterrupted: Ctrl-C during a local bake stops the
// script and registers nothing; a bake whose cloud-compose is killed -9
// leaves its script running, which the next image up warns of and
// image down stops, removing the partial root.
func TestIntegrationImageBakeInterrupted(t *testing.T) {
	q := newQuickstart(t, nil)
	// the script's process is named after this test's store: other tests'
	// sleeps are not it
	marker := "bake-sleep-" + filepath.Base(filepath.Dir(q.store))
	q.setImageScript("#!/bin/bash\necho started\nexec -a " + marker + " sleep 300\n")
	start := func() (*exec.Cmd, *testbin.Buffer) {
		cmd := q.command(context.Background(), "image", "up")
		errOut := &testbin.Buffer{}
		cmd.Stderr = errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(errOut.String(), "started") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(errOut.String(), "started") {
			t.Fatalf("the bake did not start:\n%s", errOut.String())
		}
		return cmd, errOut
	}
	// sleeping lists the script's processes, waiting up to 2 s for want
	// of them (a killed process takes a moment to leave the table)
	sleeping := func(want int) []int {
		deadline := time.Now().Add(2 * time.Second)
		for {
			p := q.processes(marker)
			if len(p) == want || time.Now().After(deadline) {
				return p
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Ctrl-C
	cmd, errOut := start()
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || !strings.Contains(errOut.String(), "was interrupted") {
		t.Fatalf("interrupted bake: %v\n%s", err, errOut.String())
	}
	if p := sleeping(0); len(p) != 0 {
		t.Fatalf("the script still runs after Ctrl-C: %v", p)
	}
	if got := q.images("quickstart-base:1"); len(got) != 0 {
		t.Fatalf("an interrupted bake registered %+v", got)
	}

	// kill -9: the script (its own process group) runs on
	cmd, _ = start()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if p := sleeping(1); len(p) != 1 {
		t.Fatalf("after kill -9 the script should still run: %v", p)
	}
	partial, _ := filepath.Glob(filepath.Join(q.store, "images", "quickstart-base:1", "*.partial"))
	if len(partial) != 1 {
		t.Fatalf("partial roots: %v", partial)
	}
	out, errText, code := q.run("image", "down")
	if code != 0 || !strings.HasPrefix(out, "terminated bake-") {
		t.Fatalf("image down: exit %d %q\n%s", code, out, errText)
	}
	if p := sleeping(0); len(p) != 0 {
		t.Fatalf("the script still runs after image down: %v", p)
	}
	if partial, _ := filepath.Glob(filepath.Join(q.store, "images", "quickstart-base:1", "*.partial")); len(partial) != 0 {
		t.Fatalf("partial roots after image down: %v", partial)
	}
	if out := q.must("image", "down"); out != "" {
		t.Fatalf("image down again: %q", out)
	}
}
