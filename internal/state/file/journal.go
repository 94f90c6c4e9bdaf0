package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

const eventsFile = "events.jsonl"

// PutEvent appends ev to the key's journal; a later line with the same id
// replaces the event (see the package doc).
func (b *Backend) PutEvent(_ context.Context, key state.Key, ev state.Event) error {
	if ev.ID == "" {
		return errors.New("state: an event needs an id")
	}
	dir, err := b.mkdirKey(key)
	if err != nil {
		return err
	}
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, eventsFile), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_EX); err != nil {
		return fmt.Errorf("state: flock %s: %w", f.Name(), err)
	}
	buf := make([]byte, 0, len(line)+2)
	// A torn last line (a crash mid-write) is ended first, so that it
	// spoils only itself.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("state: journal %s: %w", f.Name(), err)
	}
	return nil
}

// Events returns the newest n events of key (all when n <= 0), newest
// first.
func (b *Backend) Events(_ context.Context, key state.Key, n int) ([]state.Event, error) {
	dir, err := b.keyDir(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, eventsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_SH); err != nil {
		return nil, fmt.Errorf("state: flock %s: %w", f.Name(), err)
	}
	data, err := readAll(f)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return parseEvents(data, n), nil
}

// entry is one event of the journal: where its first line is (its place)
// and its last line (its value).
type entry struct {
	first int
	head  header
	line  []byte
}

// header is what ordering needs of an event line.
type header struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// readHeader reads a line's id and time. json.Marshal of a state.Event
// writes them first, {"id":"…","time":"…", so that prefix is read without
// decoding the line; anything else is decoded. ok is false for a line
// that is not an event (a torn write).
func readHeader(line []byte) (h header, ok bool) {
	const idp, tp = `{"id":"`, `","time":"`
	if rest, found := bytes.CutPrefix(line, []byte(idp)); found {
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			id := rest[:i]
			if rest, found := bytes.CutPrefix(rest[i:], []byte(tp)); found {
				if j := bytes.IndexByte(rest, '"'); j > 0 && bytes.HasSuffix(line, []byte("}")) {
					if t, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
						return header{ID: string(id), Time: t}, true
					}
				}
			}
		}
	}
	if err := json.Unmarshal(line, &h); err != nil || h.ID == "" {
		return h, false
	}
	return h, true
}

// parseEvents reads the journal's lines, the last line of an id winning,
// and decodes the newest n (all when n <= 0).
func parseEvents(data []byte, n int) []state.Event {
	byID := map[string]*entry{}
	var entries []*entry
	for i := 0; len(data) > 0; i++ {
		line := data
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			line, data = data[:j], data[j+1:]
		} else {
			data = nil
		}
		h, ok := readHeader(line)
		if !ok {
			continue // torn or foreign: skipped
		}
		if e := byID[h.ID]; e != nil {
			e.head, e.line = h, line
			continue
		}
		e := &entry{first: i, head: h, line: line}
		byID[h.ID] = e
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if !a.head.Time.Equal(b.head.Time) {
			return a.head.Time.After(b.head.Time)
		}
		return a.first > b.first
	})
	if n > 0 && len(entries) > n {
		entries = entries[:n]
	}
	return decode(entries)
}

// decode decodes the entries' lines, in parallel when there are many
// (decoding is most of reading a long journal), skipping those that do not
// decode.
func decode(entries []*entry) []state.Event {
	evs := make([]state.Event, len(entries))
	ok := make([]bool, len(entries))
	const chunk = 512
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for lo := 0; lo < len(entries); lo += chunk {
		hi := min(lo+chunk, len(entries))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for i := lo; i < hi; i++ {
				ok[i] = json.Unmarshal(entries[i].line, &evs[i]) == nil
			}
		})
	}
	wg.Wait()
	out := evs[:0]
	for i := range evs {
		if ok[i] {
			out = append(out, evs[i])
		}
	}
	return out
}

// readAll reads f whole into a buffer of its size (io.ReadAll's growing
// buffer costs a third of reading a long journal).
func readAll(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size()+1)
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return buf[:n], nil
	}
	if err != nil {
		return nil, err
	}
	// It grew since the Stat (no writer holds the flock, so it cannot).
	rest, err := io.ReadAll(f)
	return append(buf[:n], rest...), err
}
