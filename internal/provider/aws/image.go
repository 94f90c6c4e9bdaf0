package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// defaultRootDevice is the original's fallback when an image reports no
// root device name.
const defaultRootDevice = "/dev/xvda1"

// resolveImage turns aws.ami into an image: an `ami-…` id as is (its
// details looked up only when needed); otherwise the newest image whose
// Name tag matches — except that outside ASG mode and without upgrade,
// the image already running on the cluster's nodes wins, as in the
// original. how says how the id was chosen, for the progress log.
func (p *ec2Provider) resolveImage(ctx context.Context, ref string, observed []provider.Instance, upgrade bool) (img provider.Image, how string, err error) {
	if strings.HasPrefix(ref, "ami-") {
		return provider.Image{ID: ref}, "", nil
	}
	if !upgrade && !p.GroupMode() {
		for _, i := range observed {
			if i.State.Live() && i.Image != "" && i.Foreign == "" {
				return provider.Image{ID: i.Image, Name: ref}, "as used on other cluster nodes", nil
			}
		}
	}
	// aws.ami is sent as a pattern, unescaped, unlike every other filter
	// value (see filter): the original did the same, projects may rely on
	// `ami: base-*` picking the newest of a family, and an image is only
	// read, never changed.
	out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{ref}}},
	})
	if err != nil {
		return img, "", wrapErr(fmt.Sprintf("find image with tag Name=%s", ref), err)
	}
	var best *ec2types.Image
	var bestTime time.Time
	for i := range out.Images {
		im := &out.Images[i]
		if im.ImageId == nil {
			continue
		}
		t := parseCreationDate(aws.ToString(im.CreationDate))
		if best == nil || t.After(bestTime) {
			best, bestTime = im, t
		}
	}
	if best == nil {
		return img, "", fmt.Errorf("%w: no image has the tag Name=%s in region %s (aws.ami)", ErrNoImage, ref, p.region)
	}
	return provider.Image{
		ID:         aws.ToString(best.ImageId),
		Name:       ref,
		RootDevice: aws.ToString(best.RootDeviceName),
		Created:    bestTime,
	}, "created on " + aws.ToString(best.CreationDate), nil
}

// rootDevice returns the image's root device name, looking the image up
// when resolveImage did not.
func (p *ec2Provider) rootDevice(ctx context.Context, img *provider.Image) error {
	if img.RootDevice != "" {
		return nil
	}
	out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{img.ID}})
	if err != nil {
		return wrapErr("look up image "+img.ID, err)
	}
	img.RootDevice = defaultRootDevice
	if len(out.Images) == 0 {
		return fmt.Errorf("%w: image %s does not exist in region %s (aws.ami)", ErrNoImage, img.ID, p.region)
	}
	if d := aws.ToString(out.Images[0].RootDeviceName); d != "" {
		img.RootDevice = d
	}
	img.Created = parseCreationDate(aws.ToString(out.Images[0].CreationDate))
	return nil
}

// parseCreationDate parses EC2's CreationDate (ISO 8601, e.g.
// 2024-05-01T12:00:00.000Z); an unparsable date sorts first.
func parseCreationDate(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
