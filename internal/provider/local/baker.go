package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// The local provider's provider.Baker: `image up|down|ls` on this machine.

func init() {
	provider.RegisterBaker(Name, func(context.Context) (provider.Baker, error) { return baker{}, nil })
}

var _ provider.Baker = baker{}

type baker struct{}

// bakeRunFile, in a bake's directory, says which script runs and where,
// while it runs: `image down` finds a bake whose cloud-compose was killed
// (its script, in its own process group, outlives it) by this file.
const bakeRunFile = "run.json"

type bakeRun struct {
	Name string `json:"name"` // <name>:<version>
	PGID int    `json:"pgid"` // the script's process group
	Root string `json:"root"` // the root being filled (a .partial directory)
}

// Bake is a local bake (Bake) from the image: section, then the cleanup
// of older images of the name, as on EC2.
func (baker) Bake(ctx context.Context, opts provider.BakeOptions) (provider.BakeResult, error) {
	var res provider.BakeResult
	img := opts.Image
	if img == nil || img.Local == nil {
		return res, errors.New("local bake: the image: section has no local: section")
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	name := img.Tag()
	if left, err := leftoverBakes(ctx, name); err != nil {
		return res, err
	} else if len(left) > 0 {
		progress(fmt.Sprintf("warning: bake %s of %s is still there (`cloud-compose image down` stops it)", strings.Join(left, ", "), name))
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = provider.DefaultBakeTimeout
	}
	bctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("image.sh ran longer than %s (--timeout)", timeout))
	defer cancel()
	base := img.Local.Image
	if base == "" {
		base = EmptyImage
	}
	got, err := Bake(bctx, BakeOptions{Name: name, Base: base, Script: opts.UserData, Progress: progress})
	if err != nil {
		var be *BakeError
		if errors.As(err, &be) && ctx.Err() == nil && bctx.Err() != nil {
			be.Reason = "ran longer than " + timeout.String() + " (--timeout)"
		}
		return res, err
	}
	res.Image = provider.ImageInfo{ID: got.ID, Name: got.Name, Image: img.Name, Version: img.Version, Created: got.Created, State: "available", UsedBy: []string{}}
	keep := opts.Keep
	if keep <= 0 {
		keep = provider.DefaultKeep
	}
	res.Removed, res.Kept, err = cleanupImages(ctx, name, got.ID, keep, progress)
	if err != nil {
		return res, fmt.Errorf("image %s is baked; removing older images of %s failed: %w", got.ID, name, err)
	}
	return res, nil
}

// Images lists the local images (the built-in one with no name filter),
// with the clusters whose instances use each.
func (baker) Images(ctx context.Context, name string) ([]provider.ImageInfo, error) {
	s, err := defaultStore()
	if err != nil {
		return nil, err
	}
	var recs []imageRecord
	users := map[string][]string{}
	if err := s.view(ctx, func(t *txn) error {
		var err error
		if recs, err = each[imageRecord](t, bucketImages); err != nil {
			return err
		}
		users, err = imageUsers(t)
		return err
	}); err != nil {
		return nil, err
	}
	sortImages(recs)
	if name == "" {
		recs = append([]imageRecord{builtinEmpty}, recs...)
	}
	var out []provider.ImageInfo
	for _, r := range recs {
		base, version, _ := strings.Cut(r.Name, ":")
		if name != "" && base != name && r.Name != name {
			continue
		}
		u := users[r.ID]
		if u == nil {
			u = []string{}
		}
		out = append(out, provider.ImageInfo{ID: r.ID, Name: r.Name, Image: base, Version: version, Created: r.Created, State: "available", UsedBy: u})
	}
	return out, nil
}

// imageUsers says, per image id, which clusters' live instances (and
// stopped ones) run it: "cluster web (3 instances)".
func imageUsers(t *txn) (map[string][]string, error) {
	insts, err := t.instances()
	if err != nil {
		return nil, err
	}
	type key struct{ image, cluster string }
	counts := map[key]int{}
	var order []key
	for _, in := range insts {
		if in.State == provider.Terminated || in.State == provider.ShuttingDown {
			continue
		}
		c := in.Cluster
		if in.Env != "" {
			c += " (" + in.Env + ")"
		}
		k := key{in.ImageID, c}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	users := map[string][]string{}
	for _, k := range order {
		s := ""
		if counts[k] > 1 {
			s = "s"
		}
		users[k.image] = append(users[k.image], fmt.Sprintf("cluster %s (%d instance%s)", k.cluster, counts[k], s))
	}
	return users, nil
}

// cleanupImages removes the older images called name that no instance
// uses, keeping the newest keep (newID, the new one, counts and stays),
// as the EC2 bake does.
func cleanupImages(ctx context.Context, name, newID string, keep int, progress func(string)) (removed []string, kept []provider.ImageInfo, err error) {
	s, err := defaultStore()
	if err != nil {
		return nil, nil, err
	}
	var gone []imageRecord
	err = s.update(ctx, func(t *txn) error {
		removed, kept, gone = nil, nil, nil
		recs, err := each[imageRecord](t, bucketImages)
		if err != nil {
			return err
		}
		users, err := imageUsers(t)
		if err != nil {
			return err
		}
		sortImages(recs)
		room := keep - 1
		for _, r := range recs {
			if r.Name != name || r.ID == newID {
				continue
			}
			info := r.image()
			ii := provider.ImageInfo{ID: r.ID, Name: r.Name, Created: info.Created, State: "available", UsedBy: users[r.ID]}
			switch {
			case len(users[r.ID]) > 0:
				kept = append(kept, ii)
				progress(fmt.Sprintf("kept %s: used by %s", r.ID, strings.Join(users[r.ID], ", ")))
			case room > 0:
				room--
				kept = append(kept, ii)
				progress(fmt.Sprintf("kept %s: one of the newest %d (--keep)", r.ID, keep))
			default:
				if err := t.del(bucketImages, r.ID); err != nil {
					return err
				}
				removed = append(removed, r.ID)
				gone = append(gone, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range gone {
		// the record is gone: nothing resolves to the directory any more
		if err := removeTree(s.path(r.Dir)); err != nil {
			progress(fmt.Sprintf("warning: directory of removed image %s left: %v", r.ID, err))
		}
		progress(fmt.Sprintf("deleted unused image %s", r.ID))
	}
	return removed, kept, nil
}

// leftoverBakes are the bakes of name (<name>:<version>, or every version
// of an image name) whose run file is still there: running, or killed
// with their cloud-compose.
func leftoverBakes(ctx context.Context, name string) ([]string, error) {
	runs, err := bakeRuns(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for id, r := range runs {
		if bakeMatches(r.Name, name) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func bakeMatches(bakeName, name string) bool {
	base, _, _ := strings.Cut(bakeName, ":")
	return bakeName == name || base == name
}

func bakeRuns(ctx context.Context) (map[string]bakeRun, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := defaultStore()
	if err != nil {
		return nil, err
	}
	dirs, err := os.ReadDir(s.path("bakes"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	runs := map[string]bakeRun{}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(s.path("bakes", d.Name()), bakeRunFile))
		if err != nil {
			continue
		}
		var r bakeRun
		if json.Unmarshal(b, &r) == nil {
			runs[d.Name()] = r
		}
	}
	return runs, nil
}

// Down stops the bakes of the image name (every version) that are still
// there — the script's process group is killed, the partial root removed,
// nothing registered — and returns their ids.
func (baker) Down(ctx context.Context, name string) ([]string, error) {
	runs, err := bakeRuns(ctx)
	if err != nil {
		return nil, err
	}
	s, err := defaultStore()
	if err != nil {
		return nil, err
	}
	var ids []string
	for id, r := range runs {
		if !bakeMatches(r.Name, name) {
			continue
		}
		if r.PGID > 0 {
			_ = syscall.Kill(-r.PGID, syscall.SIGTERM)
			deadline := time.Now().Add(DefaultGrace)
			for time.Now().Before(deadline) && syscall.Kill(-r.PGID, 0) == nil {
				time.Sleep(50 * time.Millisecond)
			}
			_ = syscall.Kill(-r.PGID, syscall.SIGKILL)
		}
		if strings.HasSuffix(r.Root, ".partial") {
			if err := removeTree(r.Root); err != nil {
				return ids, fmt.Errorf("remove the partial root of bake %s: %w", id, err)
			}
		}
		if err := os.Remove(filepath.Join(s.path("bakes", id), bakeRunFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return ids, err
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}
