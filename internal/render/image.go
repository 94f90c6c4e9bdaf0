package render

import (
	"context"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// ImageEntryTemplate is the template an image bake runs: the original
// (cloud-compose-image) rendered `<plugin>.sh` for its `image` plugin.
const ImageEntryTemplate = "image.sh"

// BuildImage renders the bake script image.sh of img, for the project in
// dir, as cloud-compose-image's `image build` did: found on
// ['.'] + search_path (relative to dir) and rendered with the `image:`
// mapping as written, its search_path with '.' prepended (once), and
// every environment variable of environ (os.Environ()) that no key of the
// mapping shadows as a top-level name. There is no docker-compose data,
// no `environment:` handling and no `_node_id`. Rendering stops when ctx
// is cancelled, with an error that wraps ErrInterrupted.
func BuildImage(ctx context.Context, dir string, img *config.Image, environ []string) (string, error) {
	r, err := newRenderer(ctx, dir, img.SearchPath, environ)
	if err != nil {
		return "", err
	}
	data := img.Data.Clone()
	r.templateData(data)
	return r.renderFile("", ImageEntryTemplate, data)
}
