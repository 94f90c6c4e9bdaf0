package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// Baking images: `cloud-compose image up|down|ls`. A Baker is found by
// provider name (RegisterBaker, OpenBaker) like a Provider, but needs no
// cluster: an image is baked from the `image:` section alone.

// Defaults of a bake.
const (
	// DefaultBakeTimeout is how long a bake's script may run before the
	// bake is given up (its instance terminated): the original waited
	// forever.
	DefaultBakeTimeout = 60 * time.Minute
	// DefaultImageTimeout is how long a new EC2 image may stay pending.
	DefaultImageTimeout = 60 * time.Minute
	// DefaultKeep is how many images of one name and version `image up`
	// keeps, the new one included, besides the images something uses: 1,
	// the original's rule (every unused image of that name and version
	// removed).
	DefaultKeep = 1
)

// BakeOptions are what `image up` needs.
type BakeOptions struct {
	Image *config.Image
	// UserData is what the bake runs: image.sh rendered (EC2: plus the
	// original's "\nshutdown -h now").
	UserData string
	// Keep is how many images of this name and version are kept, the new
	// one included, besides those in use (DefaultKeep when 0).
	Keep int
	// Timeout bounds the script's run (DefaultBakeTimeout when 0).
	Timeout time.Duration
	// Progress gets one line per step.
	Progress func(line string)
}

// BakeResult is a finished bake.
type BakeResult struct {
	Image ImageInfo
	// Instance is what ran the script (EC2: the bake instance, terminated
	// since; local: the bake's id).
	Instance string
	// Snapshots are the new image's snapshots (EC2).
	Snapshots []string
	// Removed are the older images of this name and version the bake
	// removed; Kept those it kept, each with why.
	Removed []string
	Kept    []ImageInfo
}

// ImageInfo is an image as `image ls` shows it.
type ImageInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`    // <name>:<version> (EC2: the Name tag)
	Image   string    `json:"image"`   // the image: section's name (EC2: the ImageName tag)
	Version string    `json:"version"` // EC2: the ImageVersion tag
	Created time.Time `json:"created"`
	State   string    `json:"state"`
	// AMIName is EC2's image name, <name>_<version>_<time>.
	AMIName string `json:"ami_name,omitempty"`
	// UsedBy says what uses the image: "cluster web (3 instances)",
	// "launch template web-lt version 4", "stopped instance i-…".
	UsedBy []string `json:"used_by"`
}

// MarshalJSON writes created as null when it is unknown (the local
// provider's built-in image).
func (i ImageInfo) MarshalJSON() ([]byte, error) {
	type plain ImageInfo
	var created any
	if !i.Created.IsZero() {
		created = i.Created
	}
	return json.Marshal(struct {
		plain
		Created any `json:"created"`
	}{plain(i), created})
}

// Baker bakes, lists and cleans up images.
type Baker interface {
	// Bake runs the bake and registers the image; whatever happens, the
	// bake's instance or process does not outlive the call (when it
	// cannot be stopped, the error says so and Down finds it).
	Bake(ctx context.Context, opts BakeOptions) (BakeResult, error)
	// Down stops what is left of earlier bakes of the image name (EC2:
	// instances tagged ImageName=name that are not terminated) and
	// returns their ids.
	Down(ctx context.Context, name string) ([]string, error)
	// Images lists the baked images, of one image name when name is not
	// "", newest first within a name, with what uses each.
	Images(ctx context.Context, name string) ([]ImageInfo, error)
}

// BakerFactory opens a provider's Baker.
type BakerFactory func(ctx context.Context) (Baker, error)

var (
	bakersMu sync.Mutex
	bakers   = map[string]BakerFactory{}
)

// RegisterBaker makes a provider's Baker available by name.
func RegisterBaker(name string, f BakerFactory) {
	bakersMu.Lock()
	defer bakersMu.Unlock()
	bakers[name] = f
}

// OpenBaker returns the named provider's Baker.
func OpenBaker(ctx context.Context, name string) (Baker, error) {
	bakersMu.Lock()
	f, ok := bakers[name]
	names := make([]string, 0, len(bakers))
	for n := range bakers {
		names = append(names, n)
	}
	bakersMu.Unlock()
	if !ok {
		sort.Strings(names)
		return nil, fmt.Errorf("%w: no image baker %q in this binary (it has %v)", ErrNoProvider, name, names)
	}
	return f(ctx)
}

// SortImages orders images by image name, then version, newest first.
func SortImages(imgs []ImageInfo) {
	sort.SliceStable(imgs, func(i, j int) bool {
		a, b := imgs[i], imgs[j]
		if a.Image != b.Image {
			return a.Image < b.Image
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Created.After(b.Created)
	})
}
