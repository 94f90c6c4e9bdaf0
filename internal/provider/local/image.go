package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// EmptyImage is the built-in image: an empty root directory. It needs no
// import and is what a cluster without `local.image` runs.
const EmptyImage = "empty"

// emptyImageID is the built-in image's id.
const emptyImageID = "img-empty"

// ErrNoImage is wrapped when an image name or id matches nothing.
var ErrNoImage = errors.New("no such image")

var imageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// imageRecord is an imported image.
type imageRecord struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Dir     string    `json:"dir"` // relative to the store
}

func (r imageRecord) image() provider.Image {
	return provider.Image{ID: r.ID, Name: r.Name, Created: r.Created}
}

var builtinEmpty = imageRecord{ID: emptyImageID, Name: EmptyImage}

// ImportImage copies srcDir into the local store as a new, dated image
// called name. The newest image of a name is what clusters naming it get
// on their next new node (or with --upgrade-image).
func ImportImage(ctx context.Context, name, srcDir string) (provider.Image, error) {
	if !imageName.MatchString(name) || name == EmptyImage {
		return provider.Image{}, fmt.Errorf("image name %q: use letters, digits, '.', '_' and '-' (and not %q, the built-in image)", name, EmptyImage)
	}
	st, err := os.Stat(srcDir)
	if err != nil {
		return provider.Image{}, fmt.Errorf("import image %s: %w", name, err)
	}
	if !st.IsDir() {
		return provider.Image{}, fmt.Errorf("import image %s: %s is not a directory", name, srcDir)
	}
	s, err := defaultStore()
	if err != nil {
		return provider.Image{}, err
	}
	img, err := s.registerImage(ctx, name, func(dir string) error { return copyTree(ctx, srcDir, dir) })
	if err != nil {
		return provider.Image{}, fmt.Errorf("import image %s: %w", name, err)
	}
	return img, nil
}

// registerImage makes a new, dated image called name: fill writes its
// content into a fresh directory (removed when fill fails), which becomes
// the image's once fill returns nil, and the image is recorded in the store.
func (s *store) registerImage(ctx context.Context, name string, fill func(dir string) error) (provider.Image, error) {
	now := time.Now().UTC()
	rec := imageRecord{ID: newID("img"), Name: name, Created: now,
		Dir: filepath.Join("images", name, now.Format("20060102T150405.000Z")+"-"+randSuffix())}
	tmp := s.path(rec.Dir + ".partial")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return provider.Image{}, err
	}
	if err := fill(tmp); err != nil {
		_ = removeTree(tmp)
		return provider.Image{}, err
	}
	if err := os.Rename(tmp, s.path(rec.Dir)); err != nil {
		_ = removeTree(tmp)
		return provider.Image{}, err
	}
	err := s.update(context.WithoutCancel(ctx), func(t *txn) error { return t.put(bucketImages, rec.ID, rec) })
	if err != nil {
		_ = removeTree(s.path(rec.Dir))
		return provider.Image{}, err
	}
	return rec.image(), nil
}

// ListImages returns the built-in image and every imported one, by name,
// newest first within a name.
func ListImages(ctx context.Context) ([]provider.Image, error) {
	s, err := defaultStore()
	if err != nil {
		return nil, err
	}
	var recs []imageRecord
	if err := s.view(ctx, func(t *txn) error {
		var err error
		recs, err = each[imageRecord](t, bucketImages)
		return err
	}); err != nil {
		return nil, err
	}
	sortImages(recs)
	out := []provider.Image{builtinEmpty.image()}
	for _, r := range recs {
		out = append(out, r.image())
	}
	return out, nil
}

func sortImages(recs []imageRecord) {
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Name != recs[j].Name {
			return recs[i].Name < recs[j].Name
		}
		return recs[i].Created.After(recs[j].Created)
	})
}

// resolveImage applies the EC2 rule: an id is used as is; a name resolves
// to the image of that name the cluster already runs (running is the
// image id of each observed instance), unless upgrade, else to the newest.
// how says how a name was resolved, for messages ("" for an id).
func resolveImage(t *txn, ref string, running []string, upgrade bool) (img imageRecord, how string, err error) {
	if ref == "" || ref == EmptyImage || ref == emptyImageID {
		return builtinEmpty, "", nil
	}
	recs, err := each[imageRecord](t, bucketImages)
	if err != nil {
		return imageRecord{}, "", err
	}
	byID := map[string]imageRecord{}
	var named []imageRecord
	for _, r := range recs {
		byID[r.ID] = r
		if r.Name == ref {
			named = append(named, r)
		}
	}
	if r, ok := byID[ref]; ok {
		return r, "", nil
	}
	if len(named) == 0 {
		return imageRecord{}, "", fmt.Errorf("%w: no image named or with id %q in the local store (only the built-in %q needs no import)", ErrNoImage, ref, EmptyImage)
	}
	if !upgrade {
		for _, id := range running {
			if r, ok := byID[id]; ok && r.Name == ref {
				return r, "the image the cluster runs", nil
			}
		}
	}
	sortImages(named)
	return named[0], "newest, created " + named[0].Created.Format(time.RFC3339), nil
}

// imageByID returns the image a launch spec names, from the store.
func imageByID(t *txn, id string) (imageRecord, error) {
	if id == emptyImageID {
		return builtinEmpty, nil
	}
	var r imageRecord
	ok, err := t.get(bucketImages, id, &r)
	if err != nil {
		return imageRecord{}, err
	}
	if !ok {
		return imageRecord{}, fmt.Errorf("%w: no image with id %q in the local store", ErrNoImage, id)
	}
	return r, nil
}

func randSuffix() string { return newID("x")[2:10] }
