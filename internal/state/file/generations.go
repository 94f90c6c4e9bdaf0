package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

const generationsDir = "generations"

// PutGeneration writes g to generations/N.json (temp file, fsync,
// rename), replacing the generation with its number.
func (b *Backend) PutGeneration(_ context.Context, key state.Key, g state.Generation) error {
	if g.Number < 0 {
		return fmt.Errorf("state: generation number %d", g.Number)
	}
	dir, err := b.mkdirKey(key)
	if err != nil {
		return err
	}
	gdir := filepath.Join(dir, generationsDir)
	if err := os.MkdirAll(gdir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return writeJSON(filepath.Join(gdir, strconv.Itoa(g.Number)+".json"), g, true)
}

// Generations returns the key's generations, lowest number first.
func (b *Backend) Generations(_ context.Context, key state.Key) ([]state.Generation, error) {
	dir, err := b.keyDir(key)
	if err != nil {
		return nil, err
	}
	gdir := filepath.Join(dir, generationsDir)
	names, err := readDirNames(gdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var out []state.Generation
	for _, name := range names {
		num, ok := strings.CutSuffix(name, ".json")
		if !ok {
			continue // temp files
		}
		if _, err := strconv.Atoi(num); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(gdir, name))
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		var g state.Generation
		if err := json.Unmarshal(data, &g); err != nil {
			return nil, fmt.Errorf("state: %s: %w", filepath.Join(gdir, name), err)
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
