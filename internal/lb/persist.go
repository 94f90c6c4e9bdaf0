package lb

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// stateFile is targets.json: the registered targets that are not being
// drained, rewritten (to a temporary file, then renamed) on every change,
// so a proxy started again on the same directory keeps its targets.
type stateFile struct {
	Targets []stateTarget `json:"targets"`
}

type stateTarget struct {
	Address string `json:"address"`
}

// loadTargets reads the addresses kept in path; none when it does not
// exist.
func loadTargets(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range sf.Targets {
		a, err := ParseAddress(t.Address)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// persist writes the registered targets that are not draining to the
// state file. Writers take turns, and each writes what is registered
// when its turn comes, so the last write is the latest state.
func (lb *LoadBalancer) persist() error {
	if lb.stateFile == "" {
		return nil
	}
	lb.persistMu.Lock()
	defer lb.persistMu.Unlock()
	sf := stateFile{Targets: []stateTarget{}}
	lb.mu.Lock()
	for _, t := range lb.ring {
		if t.status().State != StateDraining {
			sf.Targets = append(sf.Targets, stateTarget{Address: t.addr})
		}
	}
	lb.mu.Unlock()
	if err := writeFileAtomic(lb.stateFile, sf); err != nil {
		lb.log.Error("could not keep the targets", "file", lb.stateFile, "error", err)
		return fmt.Errorf("keep the targets in %s: %w", lb.stateFile, err)
	}
	return nil
}

func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
