package render

import (
	"fmt"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ResolvedData returns a copy of the cluster's template data with what the
// provider resolved written in, where the original's templates read it:
//
//	aws:   aws.ami (the image id), aws.ami_name (when resolved from a
//	       name), aws.volumes[i].snapshot (unless set in the config)
//	local: local.image_id, local.image_name, local.volumes[i].snapshot
//
// This is the one place that knows these keys; providers return values.
func ResolvedData(c *config.Cluster, res provider.Resolution) (*config.Mapping, error) {
	data := c.Data.Clone()
	if c.Provider == "" {
		return data, nil
	}
	sec := subMapping(data, c.Provider)
	switch c.Provider {
	case "aws":
		if res.Image.ID != "" {
			sec.Set("ami", res.Image.ID)
		}
		if res.Image.Name != "" {
			sec.Set("ami_name", res.Image.Name)
		}
	case "local":
		sec.Set("image_id", res.Image.ID)
		sec.Set("image_name", res.Image.Name)
	}
	if len(res.Snapshots) == 0 {
		return data, nil
	}
	v, _ := sec.Get("volumes")
	vols, _ := v.([]any)
	for i, choice := range res.Snapshots {
		if choice.Newest == "" {
			continue
		}
		if i >= len(vols) {
			return nil, fmt.Errorf("template data has no %s.volumes[%d]", c.Provider, i)
		}
		vm, ok := vols[i].(*config.Mapping)
		if !ok {
			return nil, fmt.Errorf("template data %s.volumes[%d] is not a mapping", c.Provider, i)
		}
		if !vm.Has("snapshot") {
			vm.Set("snapshot", choice.Newest)
		}
	}
	return data, nil
}

func subMapping(data *config.Mapping, key string) *config.Mapping {
	if v, ok := data.Get(key); ok {
		if m, ok := v.(*config.Mapping); ok {
			return m
		}
	}
	m := config.NewMapping()
	data.Set(key, m)
	return m
}
