package local

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// ErrNoUserData is wrapped when an instance's user data is gone: it was
// terminated (the boot script goes with it, as it may hold secrets).
var ErrNoUserData = errors.New("user data is gone")

// UserData implements provider.UserDataReader: the boot script instance
// id was launched with, from its launch spec in the store (or, for an
// instance launched before the store kept specs, its user-data file).
func (p *localProvider) UserData(ctx context.Context, id string) (string, error) {
	r, err := p.record(ctx, id)
	if err != nil {
		return "", err
	}
	if r.State == provider.Terminated {
		return "", fmt.Errorf("instance %s is terminated: %w", id, ErrNoUserData)
	}
	if r.LaunchedSpec != nil {
		return r.LaunchedSpec.UserData, nil
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
