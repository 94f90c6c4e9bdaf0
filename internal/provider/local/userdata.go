package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ErrNoUserData is wrapped when an instance's user data is gone: it was
// terminated (the boot script goes with it, as it may hold secrets).
var ErrNoUserData = errors.New("user data is gone")

// The spec an instance was launched with lives in two files of the
// instance's directory, not in state.db: the boot script (user-data, which
// bash runs) and the rest of the spec (spec.json, environment values
// included). Both may hold secrets, and both are removed when the instance
// is terminated; a bbolt database keeps the bytes of deleted values in its
// free pages, so nothing secret is ever written there.

// writeLaunchSpec writes the files of spec for instance id: the user data,
// then the spec without it, renamed into place, so that a reader that
// finds spec.json finds the whole spec.
func (s *store) writeLaunchSpec(id string, spec provider.Spec) error {
	if err := os.MkdirAll(s.instanceDir(id), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(s.userDataPath(id), []byte(spec.UserData), 0o600); err != nil {
		return err
	}
	spec.UserData = ""
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	tmp := s.specPath(id) + ".partial"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.specPath(id))
}

// launchSpec reads the spec instance id was launched with; nil when its
// files are not written yet or already removed.
func (s *store) launchSpec(id string) (*provider.Spec, error) {
	b, err := os.ReadFile(s.specPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("launch spec of %s: %w", id, err)
	}
	var spec provider.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("launch spec of %s: %w", id, err)
	}
	ud, err := os.ReadFile(s.userDataPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // terminated meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("launch spec of %s: %w", id, err)
	}
	spec.UserData = string(ud)
	return &spec, nil
}

// UserData implements provider.UserDataReader: the boot script instance
// id was launched with, from the store.
func (p *localProvider) UserData(ctx context.Context, id string) (string, error) {
	r, err := p.record(ctx, id)
	if err != nil {
		return "", err
	}
	if r.State == provider.Terminated {
		return "", fmt.Errorf("instance %s is terminated: %w", id, ErrNoUserData)
	}
	b, err := os.ReadFile(p.store.userDataPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("instance %s: %w", id, ErrNoUserData)
	}
	if err != nil {
		return "", fmt.Errorf("instance %s: %w", id, err)
	}
	return string(b), nil
}
