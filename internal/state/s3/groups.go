package s3state

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

var _ state.GroupStore = (*backend)(nil)

// groupsTries bounds how often PutGroupMembers reads and writes again when
// another writer changed groups.json between its read and its write.
const groupsTries = 20

func groupsKey(dir string) string { return dir + "/groups.json" }

// PutGroupMembers replaces g.Group's record in groups.json: a conditional
// write on what it read (see the package comment).
func (b *backend) PutGroupMembers(ctx context.Context, key state.Key, g state.GroupMembers) error {
	dir, err := b.dir(key)
	if err != nil {
		return err
	}
	if g.Group == "" {
		return fmt.Errorf("state %s: group members of %s: no group name", b.loc, key)
	}
	name := groupsKey(dir)
	for try := range groupsTries {
		groups, etag, err := b.readGroups(ctx, name)
		if err != nil {
			return fmt.Errorf("state %s: group members of %s: %w", b.loc, key, err)
		}
		i := sort.Search(len(groups), func(i int) bool { return groups[i].Group >= g.Group })
		if i < len(groups) && groups[i].Group == g.Group {
			groups[i] = g
		} else {
			groups = slices.Insert(groups, i, g)
		}
		body, err := json.Marshal(groups)
		if err != nil {
			return err
		}
		ifNoneMatch := ""
		if etag == "" {
			ifNoneMatch = "*"
		}
		_, err = b.put(ctx, name, body, etag, ifNoneMatch)
		if err == nil {
			return nil
		}
		if !conflict(err) && !notFound(err) {
			return fmt.Errorf("state %s: group members of %s: %w", b.loc, key, err)
		}
		// Changed (or created, or deleted) since the read: read again,
		// after a jittered pause so that two writers do not meet again.
		wait := time.Duration(mrand.Int64N(int64(min(try+1, 8)) * int64(10*time.Millisecond)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("state %s: group members of %s: %w", b.loc, key, ctx.Err())
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("state %s: group members of %s: s3://%s/%s kept changing while it was written; try again", b.loc, key, b.bucket, name)
}

// GroupMembers reads groups.json: every group, by name.
func (b *backend) GroupMembers(ctx context.Context, key state.Key) ([]state.GroupMembers, error) {
	dir, err := b.dir(key)
	if err != nil {
		return nil, err
	}
	groups, _, err := b.readGroups(ctx, groupsKey(dir))
	if err != nil {
		return nil, fmt.Errorf("state %s: group members of %s: %w", b.loc, key, err)
	}
	return groups, nil
}

// readGroups reads and decodes the groups object name, sorted by group,
// and its ETag; none: an empty slice and no ETag.
func (b *backend) readGroups(ctx context.Context, name string) ([]state.GroupMembers, string, error) {
	obj, err := b.get(ctx, name)
	if notFound(err) {
		return []state.GroupMembers{}, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	groups := []state.GroupMembers{}
	if err := json.Unmarshal(obj.body, &groups); err != nil {
		return nil, "", fmt.Errorf("s3://%s/%s: %w", b.bucket, name, err)
	}
	if groups == nil { // an object holding null
		groups = []state.GroupMembers{}
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Group < groups[j].Group })
	return groups, obj.etag, nil
}
