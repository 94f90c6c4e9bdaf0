package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

const (
	groupsFile     = "groups.json"
	groupsLockFile = "groups.lock"
)

var _ state.GroupStore = (*Backend)(nil)

// PutGroupMembers replaces g.Group's record in groups.json. The file is
// read, changed and written (temp file, fsync, rename, as a generation)
// under an flock on groups.lock, so that writers of different groups at
// once all keep theirs; a reader needs no lock (the rename is atomic).
func (b *Backend) PutGroupMembers(ctx context.Context, key state.Key, g state.GroupMembers) error {
	if g.Group == "" {
		return errors.New("state: group members without a group name")
	}
	dir, err := b.mkdirKey(key)
	if err != nil {
		return err
	}
	// The lock is a file of its own: groups.json is replaced by rename,
	// so an flock on it would be on a file no longer at its path.
	f, err := os.OpenFile(filepath.Join(dir, groupsLockFile), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	release, err := flockWait(ctx, f, "a process stopped while writing group members?")
	if err != nil {
		return err
	}
	defer release()
	groups, err := readGroups(dir)
	if err != nil {
		return err
	}
	i := sort.Search(len(groups), func(i int) bool { return groups[i].Group >= g.Group })
	if i < len(groups) && groups[i].Group == g.Group {
		groups[i] = g
	} else {
		groups = slices.Insert(groups, i, g)
	}
	return writeJSON(filepath.Join(dir, groupsFile), groups, true)
}

// GroupMembers returns the key's groups.json, by group name.
func (b *Backend) GroupMembers(_ context.Context, key state.Key) ([]state.GroupMembers, error) {
	dir, err := b.keyDir(key)
	if err != nil {
		return nil, err
	}
	return readGroups(dir)
}

// readGroups reads dir's groups.json, sorted by group name; none: an
// empty slice.
func readGroups(dir string) ([]state.GroupMembers, error) {
	path := filepath.Join(dir, groupsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []state.GroupMembers{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	groups := []state.GroupMembers{}
	if err := json.Unmarshal(data, &groups); err != nil {
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	if groups == nil { // a file holding null
		groups = []state.GroupMembers{}
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Group < groups[j].Group })
	return groups, nil
}
