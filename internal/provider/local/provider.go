package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Name is the provider's name in `cluster.provider`.
const Name = "local"

// InstanceType is what local instances report as their type.
const InstanceType = "local"

func init() { provider.Register(Name, open) }

// Errors of the local provider, wrapped with details.
var (
	// ErrNodeExists: a node already has a live instance with another spec.
	ErrNodeExists = errors.New("node already has a live instance")
	// ErrNotRunning: an instance stopped or failed while it was awaited.
	ErrNotRunning = errors.New("instance is not running")
	// errRevived: an instance about to be retired as dead was claimed by
	// its supervisor after all.
	errRevived = errors.New("instance is alive after all")
)

type localProvider struct {
	cfg   *config.Cluster
	local config.Local
	store *store
	grace time.Duration
	log   io.Writer
}

var (
	_ provider.Provider    = (*localProvider)(nil)
	_ provider.Cleaner     = (*localProvider)(nil)
	_ provider.Snapshotter = (*localProvider)(nil)
	_ provider.LogReader   = (*localProvider)(nil)
	_ provider.Watcher     = (*localProvider)(nil)

	_ provider.UserDataReader = (*localProvider)(nil)
)

func open(_ context.Context, c *config.Cluster, opts provider.Options) (provider.Provider, error) {
	s, err := defaultStore()
	if err != nil {
		return nil, err
	}
	p := &localProvider{cfg: c, store: s, grace: opts.Grace, log: opts.Log}
	if c.Local != nil {
		p.local = *c.Local
	} else {
		p.local.TerminateProtection = true
	}
	if p.grace <= 0 {
		p.grace = DefaultGrace
	}
	if p.log == nil {
		p.log = io.Discard
	}
	return p, nil
}

// Instances returns the cluster's instances that are not terminated, with
// their state as observed now (an instance whose supervisor died is
// failed) and the spec each was launched with (LaunchedSpec; nil while a
// launch has not written it yet).
func (p *localProvider) Instances(ctx context.Context, cluster provider.ClusterID) ([]provider.Instance, error) {
	var out []provider.Instance
	err := p.store.view(ctx, func(t *txn) error {
		recs, err := t.instances()
		if err != nil {
			return err
		}
		for i := range recs {
			r := &recs[i]
			if r.Cluster != cluster.Name || r.Env != cluster.Env || r.State == provider.Terminated {
				continue
			}
			out = append(out, r.instance())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].LaunchedSpec, err = p.store.launchSpec(out[i].ID); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].NodeID != out[j].NodeID {
			return out[i].NodeID < out[j].NodeID
		}
		return out[i].Launched.Before(out[j].Launched)
	})
	return out, nil
}

// observed returns the record's state as it is now, and why when that
// differs from what the record says. An instance is failed only when its
// process tree is really gone: a launcher that died after starting the
// supervisor (which has not claimed the record yet) leaves it pending, and
// a node whose supervisor died while its processes still run is running
// (unsupervised: nobody records its end, and the next look finds it failed
// once its processes are gone).
func (r *instanceRecord) observed() (provider.State, string) {
	switch r.State {
	case provider.Pending:
		if r.Supervisor.PID == 0 {
			if r.starting() {
				return provider.Pending, ""
			}
			return provider.Failed, "the launch was interrupted before the supervisor started"
		}
		if r.Supervisor.alive() {
			return provider.Pending, ""
		}
		if n := len(nodeProcesses(r)); n > 0 {
			return provider.Running, fmt.Sprintf("its supervisor died while starting; %d process(es) of the node still run", n)
		}
		return provider.Failed, "its supervisor died while starting"
	case provider.Running:
		if r.Supervisor.alive() {
			return provider.Running, ""
		}
		if n := len(nodeProcesses(r)); n > 0 {
			return provider.Running, fmt.Sprintf("its supervisor died; %d process(es) of the node still run", n)
		}
		return provider.Failed, "its supervisor died and no process of the node is left"
	}
	return r.State, r.Reason
}

// starting reports whether the instance's supervisor is being started:
// the record is not claimed yet, and its launcher is alive or a supervisor
// process for the instance already runs (the launcher may have died right
// after starting it).
func (r *instanceRecord) starting() bool {
	return r.Supervisor.PID == 0 && (r.Launcher.alive() || supervisorStarting(r.ID))
}

// owned reports whether a live process is responsible for the record: it
// runs it, launches it or finishes its termination.
func (r *instanceRecord) owned() bool {
	return r.Supervisor.alive() || r.Reaper.alive() || r.starting()
}

// live reports whether the record holds its node and IP.
func (r *instanceRecord) live() bool {
	switch st, _ := r.observed(); st {
	case provider.Pending, provider.Running:
		return true
	case provider.ShuttingDown:
		return r.owned()
	}
	return false
}

func (r *instanceRecord) instance() provider.Instance {
	st, _ := r.observed()
	tags := make(map[string]string, len(r.Tags))
	for k, v := range r.Tags {
		tags[k] = v
	}
	var code *int
	if st == provider.Stopped || st == provider.Failed {
		code = r.ExitCode
	}
	return provider.Instance{
		ID: r.ID, NodeID: r.NodeID, State: st, IP: r.IP, Image: r.ImageID, Type: InstanceType,
		Launched: r.Launched, Spec: r.Spec, Protected: r.Protected, ExitCode: code, Tags: tags,
		Generation: r.Generation,
	}
}

// tags are the instance's tags (provider.LaunchTags).
func tags(ls provider.LaunchSpec, specTag string) map[string]string {
	return provider.TagMap(provider.LaunchTags(ls.Cluster, ls.Node.ID, ls.Generation, specTag, ls.Spec.Tags))
}

// ErrNoImageInSpec is wrapped when a launch spec names no image (it was
// not computed from a Resolution).
var ErrNoImageInSpec = errors.New("the launch spec names no image")

// Launch makes exactly ls.Spec: the image by id from the store, the
// volumes (new ones restored from their Snapshot), the environment and the
// boot script, on ls.Spec.IP, tagged with ls.Spec.Tag(). It claims the
// node and its IP in one store transaction (which keeps the full spec in
// the instance's record), then starts the instance's supervisor and
// returns once the supervisor has taken over. A live instance of the same
// node with the same spec is returned as is (so a retried or concurrent
// launch never makes a second one); a dead instance of the node (stopped,
// failed, or abandoned) is retired first, releasing its kept volumes to
// the new instance.
func (p *localProvider) Launch(ctx context.Context, ls provider.LaunchSpec) (provider.Instance, error) {
	fail := func(err error) (provider.Instance, error) {
		return provider.Instance{}, fmt.Errorf("launch node %s: %w", ls.Node.ID, err)
	}
	ip := ls.Spec.IP
	if ip == "" && ls.Node.Group != "" {
		// a node-group member: its IP comes from local.network, recorded
		// per node so that its replacements keep it (not part of the spec)
		var err error
		if ip, err = p.memberIP(ctx, ls.Cluster, ls.Node.ID); err != nil {
			return fail(err)
		}
	}
	if err := checkIP(ip); err != nil {
		return fail(err)
	}
	if ls.Spec.Image == "" {
		return fail(ErrNoImageInSpec)
	}
	specTag := ls.Spec.Tag()
	for {
		var existing, claimed *instanceRecord
		var retire []instanceRecord
		var leaving []string // being terminated: wait, then claim
		err := p.store.update(ctx, func(t *txn) error {
			recs, err := t.instances()
			if err != nil {
				return err
			}
			for i := range recs {
				r := &recs[i]
				if r.State == provider.Terminated {
					continue
				}
				sameNode := r.Cluster == ls.Cluster.Name && r.Env == ls.Cluster.Env && r.NodeID == ls.Node.ID
				if !r.live() {
					if sameNode {
						retire = append(retire, *r)
					}
					continue
				}
				switch {
				case r.State == provider.ShuttingDown && (sameNode || r.IP == ip):
					leaving = append(leaving, r.ID)
				case sameNode && r.Spec == specTag && r.IP == ip:
					existing = r
					return nil
				case r.IP == ip:
					return ipHeld(r)
				case sameNode && !ls.Surge:
					return fmt.Errorf("%w: instance %s (%s, IP %s, another spec)", ErrNodeExists, r.ID, r.State, r.IP)
				}
			}
			if len(retire) > 0 || len(leaving) > 0 {
				return nil
			}
			if err := p.checkHealthAddr(ls.Node.ID, ip); err != nil {
				return err
			}
			img, err := imageByID(t, ls.Spec.Image)
			if err != nil {
				return err
			}
			claimed = p.newRecord(ls, img, specTag, ip)
			return attachVolumes(t, claimed, ls.Spec.Volumes)
		})
		if err != nil {
			return fail(err)
		}
		if existing != nil {
			return existing.instance(), nil
		}
		if len(leaving) > 0 {
			if err := p.WaitTerminated(ctx, leaving); err != nil {
				return fail(err)
			}
			continue
		}
		if claimed == nil {
			for i := range retire {
				fmt.Fprintf(p.log, "node %s: retiring %s instance %s\n", ls.Node.ID, retire[i].State, retire[i].ID)
				err := p.store.retire(ctx, retire[i].ID, p.grace)
				if errors.Is(err, errRevived) {
					break // its supervisor took it over: look again
				}
				if err != nil {
					return fail(fmt.Errorf("retire %s: %w", retire[i].ID, err))
				}
			}
			continue
		}
		if err := p.start(ctx, claimed, ls.Spec); err != nil {
			return fail(err)
		}
		in := claimed.instance()
		in.LaunchedSpec = &ls.Spec
		return in, nil
	}
}

func (p *localProvider) newRecord(ls provider.LaunchSpec, img imageRecord, specTag, ip string) *instanceRecord {
	spec := &ls.Spec
	return &instanceRecord{
		ID: newID("i"), Cluster: ls.Cluster.Name, Env: ls.Cluster.Env, NodeID: ls.Node.ID, IP: ip,
		ImageID: img.ID, ImageName: img.Name, State: provider.Pending, Spec: specTag,
		Protected: spec.Flags.TerminateProtection, Tags: tags(ls, specTag), Generation: ls.Generation,
		Launched: time.Now().UTC(), Launcher: self(), Grace: p.grace, Hardware: spec.Hardware,
	}
}

// attachVolumes gives rec the spec's volumes: a kept (delete_on_termination:
// false), available volume of the same node and name if there is one, else
// a new one, restored from the volume's snapshot when the spec names one
// (which must be a completed snapshot in the store).
func attachVolumes(t *txn, rec *instanceRecord, specs []provider.VolumeSpec) error {
	vols, err := t.volumes()
	if err != nil {
		return err
	}
	for _, v := range specs {
		var vr *volumeRecord
		if !v.DeleteOnTermination {
			for i := range vols {
				c := &vols[i]
				if c.State == volumeAvailable && c.Cluster == rec.Cluster && c.Env == rec.Env && c.NodeID == rec.NodeID && c.Name == v.Name &&
					(vr == nil || c.Created.After(vr.Created)) {
					vr = c
				}
			}
		}
		if vr == nil {
			vr = &volumeRecord{ID: newID("vol"), Cluster: rec.Cluster, Env: rec.Env, NodeID: rec.NodeID, Name: v.Name,
				Device: device(v.Name, v.Device), SizeGB: v.SizeGB, Created: time.Now().UTC()}
			if v.Snapshot != "" {
				var sn snapshotRecord
				ok, err := t.get(bucketSnapshots, v.Snapshot, &sn)
				if err != nil {
					return err
				}
				if !ok || sn.State != snapshotCompleted {
					return fmt.Errorf("volume %s: %w: %s", v.Name, ErrNoSnapshot, v.Snapshot)
				}
				vr.RestoreFrom = v.Snapshot
			}
		}
		vr.State, vr.Instance, vr.DeleteOnTermination = volumeInUse, rec.ID, v.DeleteOnTermination
		if err := t.putVolume(vr); err != nil {
			return err
		}
		rec.Volumes = append(rec.Volumes, attachment{VolumeID: vr.ID, Name: v.Name, Mount: v.Mount})
	}
	return t.putInstance(rec)
}

// start writes the instance's files (its launch spec) and starts its
// supervisor. On failure or cancellation the claim is given up so the next
// launch starts clean.
func (p *localProvider) start(ctx context.Context, rec *instanceRecord, spec provider.Spec) error {
	err := p.store.writeLaunchSpec(rec.ID, spec)
	var sup *os.Process
	if err == nil {
		sup, err = startDetached(ctx, p.store, rec.ID, false)
	}
	if err == nil {
		return nil
	}
	p.abandon(rec.ID, sup)
	return err
}

// abandon gives up a launch: the record is marked shutting down and the
// supervisor, if it was started, finishes it; otherwise it is finished here.
func (p *localProvider) abandon(id string, sup *os.Process) {
	ctx, cancel := context.WithTimeout(context.Background(), p.grace+10*time.Second)
	defer cancel()
	_ = p.store.update(ctx, func(t *txn) error {
		r, err := t.instance(id)
		if err != nil || r.State == provider.Terminated {
			return err
		}
		// The launcher gives up: from now on only a supervisor (or whoever
		// finds the record orphaned) finishes it.
		r.State, r.Reason, r.Launcher = provider.ShuttingDown, "launch abandoned", procRef{}
		return t.putInstance(r)
	})
	if sup != nil && sup.Signal(syscall.SIGTERM) == nil {
		return
	}
	_ = p.store.retire(ctx, id, p.grace)
}

// WaitRunning waits until every instance runs (or ran its boot script to
// a successful end). An instance that fails first is an error.
func (p *localProvider) WaitRunning(ctx context.Context, instances []provider.Instance) ([]provider.Instance, error) {
	out := make([]provider.Instance, len(instances))
	done := make([]bool, len(instances))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var errs []error
		remaining := 0
		err := p.store.view(ctx, func(t *txn) error {
			for i, in := range instances {
				if done[i] {
					continue
				}
				r, err := t.instance(in.ID)
				if err != nil {
					return err
				}
				now := r.instance()
				out[i] = now
				switch {
				case now.State == provider.Running || now.State == provider.Stopped && now.ExitCode != nil && *now.ExitCode == 0:
					done[i] = true
				case now.State == provider.Pending:
					remaining++
				default:
					done[i] = true
					errs = append(errs, notRunning(r))
				}
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		if len(errs) > 0 {
			return out, errors.Join(errs...)
		}
		if remaining == 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-tick.C:
		}
	}
}

// Alive implements provider.Watcher: nil while the instance is pending or
// running (its supervisor, or a process of the node, is alive); otherwise
// an error that says how it ended. It reads the store record and /proc,
// and never waits.
func (p *localProvider) Alive(ctx context.Context, instanceID string) error {
	r, err := p.record(ctx, instanceID)
	if err != nil {
		return err
	}
	switch st, _ := r.observed(); st {
	case provider.Pending, provider.Running:
		return nil
	}
	return notRunning(r)
}

func notRunning(r *instanceRecord) error {
	st, reason := r.observed()
	msg := fmt.Sprintf("instance %s (node %s) is %s", r.ID, r.NodeID, st)
	if r.ExitCode != nil && (st == provider.Failed || st == provider.Stopped) {
		msg += fmt.Sprintf(" with exit code %d", *r.ExitCode)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return fmt.Errorf("%s: %w", msg, ErrNotRunning)
}

// Terminate asks each instance's supervisor to stop it: SIGTERM to all of
// the node's processes, the grace period, SIGKILL, then volumes with
// delete_on_termination are deleted and the others released. An instance
// without a live supervisor is finished here, or by a detached reaper when
// processes are left, so termination completes even if the CLI exits.
func (p *localProvider) Terminate(ctx context.Context, ids []string, force bool) error {
	var recs []instanceRecord
	err := p.store.update(ctx, func(t *txn) error {
		var protected []provider.Instance
		for _, id := range ids {
			r, err := t.instance(id)
			if err != nil {
				return err
			}
			if r.State == provider.Terminated {
				continue
			}
			if r.Protected && !force {
				protected = append(protected, r.instance())
				continue
			}
			recs = append(recs, *r)
		}
		if len(protected) > 0 {
			return &provider.ProtectedError{Instances: protected}
		}
		for i := range recs {
			r := &recs[i]
			r.Protected = false
			if r.State != provider.ShuttingDown {
				r.State, r.Reason = provider.ShuttingDown, "terminated"
				r.Grace = p.grace
			}
			if err := t.putInstance(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("terminate: %w", err)
	}
	var errs []error
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Supervisor.alive():
			if err := syscall.Kill(r.Supervisor.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("terminate %s: %w", r.ID, err))
			}
		case r.owned():
			// its launcher or reaper will finish it
		case len(nodeProcesses(r)) == 0:
			if err := p.store.retire(ctx, r.ID, p.grace); err != nil {
				errs = append(errs, fmt.Errorf("terminate %s: %w", r.ID, err))
			}
		default:
			if _, err := startDetached(ctx, p.store, r.ID, true); err != nil {
				errs = append(errs, fmt.Errorf("terminate %s: %w", r.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// WaitTerminated waits until the instances are terminated: every process
// gone (the node's, and its supervisor or reaper, which exit just after
// they record the termination), volumes deleted or released. A termination
// nobody is finishing (its supervisor and reaper died) is finished here.
func (p *localProvider) WaitTerminated(ctx context.Context, ids []string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var orphaned []string
		pending := 0
		err := p.store.view(ctx, func(t *txn) error {
			for _, id := range ids {
				r, err := t.instance(id)
				if errors.Is(err, ErrNoInstance) {
					continue
				}
				if err != nil {
					return err
				}
				switch {
				case r.State == provider.Terminated:
					if r.Supervisor.alive() || r.Reaper.alive() || (r.Supervisor.PID == 0 && supervisorStarting(r.ID)) {
						pending++ // recorded; its supervisor or reaper is exiting
					}
				case r.State != provider.ShuttingDown:
					st, _ := r.observed()
					return fmt.Errorf("instance %s (node %s) is %s, not shutting down", r.ID, r.NodeID, st)
				case !r.owned():
					orphaned = append(orphaned, id)
				default:
					pending++
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("wait for termination: %w", err)
		}
		for _, id := range orphaned {
			if err := p.store.retire(ctx, id, p.grace); err != nil {
				return fmt.Errorf("wait for termination: %w", err)
			}
		}
		if pending == 0 && len(orphaned) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for termination: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// retire finishes an instance's termination here: the node's processes get
// SIGTERM, the grace period and SIGKILL; then the record is marked
// terminated, its root directory and delete_on_termination volumes are
// deleted and its other volumes released. Safe to run twice, also
// concurrently.
//
// A record that is not shutting down yet (a dead instance a launch
// replaces) is first marked shutting down, in a transaction that checks it
// is still dead: a supervisor that claims it after that only finishes the
// termination, and one that claimed it before makes retire return
// errRevived and touch nothing.
func (s *store) retire(ctx context.Context, id string, grace time.Duration) error {
	var rec *instanceRecord
	err := s.view(ctx, func(t *txn) error {
		var err error
		rec, err = t.instance(id)
		return err
	})
	if err != nil {
		return err
	}
	if rec.State == provider.Terminated {
		return nil
	}
	if rec.State != provider.ShuttingDown {
		err := s.update(ctx, func(t *txn) error {
			r, err := t.instance(id)
			if err != nil {
				return err
			}
			if r.State == provider.Terminated || r.State == provider.ShuttingDown {
				rec = r
				return nil
			}
			st, _ := r.observed()
			if st == provider.Pending || st == provider.Running {
				return fmt.Errorf("%w: instance %s is %s", errRevived, r.ID, st)
			}
			r.State, r.Reason = provider.ShuttingDown, "replaced after it was "+string(st)
			rec = r
			return t.putInstance(r)
		})
		if err != nil {
			return err
		}
		if rec.State == provider.Terminated {
			return nil
		}
	}
	if rec.Grace > 0 {
		grace = rec.Grace
	}
	stopProcesses(ctx, rec, grace)
	return s.markTerminated(context.WithoutCancel(ctx), id)
}

// markTerminated records the end of an instance whose processes are gone.
func (s *store) markTerminated(ctx context.Context, id string) error {
	var remove []string
	err := s.update(ctx, func(t *txn) error {
		r, err := t.instance(id)
		if err != nil {
			return err
		}
		if r.State == provider.Terminated {
			return nil
		}
		for _, a := range r.Volumes {
			v, err := t.volume(a.VolumeID)
			if err != nil {
				return err
			}
			if v.Instance != r.ID || v.State != volumeInUse {
				continue
			}
			if v.DeleteOnTermination {
				v.State = volumeDeleted
				remove = append(remove, s.volumeDir(v.ID))
			} else {
				v.State = volumeAvailable
			}
			v.Instance = ""
			if err := t.putVolume(v); err != nil {
				return err
			}
		}
		if r.State != provider.ShuttingDown {
			r.Reason = "replaced after it was " + string(r.State)
		}
		r.State, r.Terminated = provider.Terminated, time.Now().UTC()
		// The boot script and the rest of the launch spec (environment
		// values) go with the instance: they may hold secrets. The log
		// stays for `cluster logs` until cleanup.
		remove = append(remove, s.rootDir(r.ID), s.userDataPath(r.ID), s.specPath(r.ID))
		return t.putInstance(r)
	})
	if err != nil {
		return err
	}
	for _, d := range remove {
		if err := removeTree(d); err != nil {
			return err
		}
	}
	return nil
}

// removeTree removes dir even when the boot script left read-only
// directories in it.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = chmodDirs(dir)
	return os.RemoveAll(dir)
}

func chmodDirs(dir string) error {
	_ = os.Chmod(dir, 0o700)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			_ = chmodDirs(dir + "/" + e.Name())
		}
	}
	return nil
}
