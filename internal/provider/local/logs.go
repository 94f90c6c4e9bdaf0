package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// followPoll is how often `logs -f` looks for new output.
const followPoll = 200 * time.Millisecond

// Logs writes the instance's log (the supervisor's lines, marked
// [cloud-compose], and the boot script's output) to w: the last tail lines
// (tail < 0: all of it). With follow it keeps writing what is appended
// until the instance has ended or ctx is cancelled (which is not an error).
func (p *localProvider) Logs(ctx context.Context, instanceID string, w io.Writer, follow bool, tail int) error {
	if _, err := p.record(ctx, instanceID); err != nil {
		return err
	}
	f, err := os.Open(p.store.logPath(instanceID))
	if errors.Is(err, os.ErrNotExist) && follow {
		// not started yet: wait for it
		for err != nil && errors.Is(err, os.ErrNotExist) {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(followPoll):
			}
			f, err = os.Open(p.store.logPath(instanceID))
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logs of %s: %w", instanceID, err)
	}
	defer f.Close()
	if tail >= 0 {
		off, err := tailOffset(f, tail)
		if err != nil {
			return fmt.Errorf("logs of %s: %w", instanceID, err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
	}
	if _, err := io.Copy(w, f); err != nil || !follow {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
		r, err := p.record(ctx, instanceID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		n, err := io.Copy(w, f)
		if err != nil {
			return err
		}
		if st, _ := r.observed(); n == 0 && st != provider.Pending && st != provider.Running && st != provider.ShuttingDown {
			return nil
		}
	}
}

func (p *localProvider) record(ctx context.Context, id string) (*instanceRecord, error) {
	var rec *instanceRecord
	err := p.store.view(ctx, func(t *txn) error {
		var err error
		rec, err = t.instance(id)
		return err
	})
	return rec, err
}

// tailOffset returns where the last n lines of f start.
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	if n == 0 {
		return end, nil
	}
	const chunk = 8192
	buf := make([]byte, chunk)
	pos := end
	seen := 0
	first := true
	for pos > 0 {
		size := int64(chunk)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		b := buf[:size]
		if first && len(b) > 0 && b[len(b)-1] == '\n' {
			b = b[:len(b)-1] // the final newline ends the last line
		}
		first = false
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] == '\n' {
				seen++
				if seen == n {
					return pos + int64(i) + 1, nil
				}
			}
		}
	}
	return 0, nil
}

// Cleanup removes what the cluster's terminated instances left in the
// store: their records, logs and boot scripts, and the records of their
// deleted volumes.
func (p *localProvider) Cleanup(ctx context.Context, cluster provider.ClusterID) ([]string, error) {
	var done, dirs []string
	err := p.store.update(ctx, func(t *txn) error {
		recs, err := t.instances()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Cluster != cluster.Name || r.Env != cluster.Env || r.State != provider.Terminated {
				continue
			}
			if err := t.del(bucketInstances, r.ID); err != nil {
				return err
			}
			dirs = append(dirs, p.store.instanceDir(r.ID))
			done = append(done, fmt.Sprintf("instance %s (node %s)", r.ID, r.NodeID))
		}
		vols, err := t.volumes()
		if err != nil {
			return err
		}
		for _, v := range vols {
			if v.Cluster != cluster.Name || v.Env != cluster.Env || v.State != volumeDeleted {
				continue
			}
			if err := t.del(bucketVolumes, v.ID); err != nil {
				return err
			}
			dirs = append(dirs, p.store.volumeDir(v.ID))
			done = append(done, fmt.Sprintf("volume %s (%s of node %s)", v.ID, v.Name, v.NodeID))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	var errs []error
	for _, d := range dirs {
		if err := removeTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}
