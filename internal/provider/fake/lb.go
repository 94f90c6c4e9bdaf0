package fake

import (
	"context"
	"sort"
	"sync"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Balanced is a Recorder with a load balancer (provider.LoadBalancer): it
// keeps a set of targets and records "register <id>", "deregister <id>"
// and "remove-lb" among the Recorder's calls, so a test can check their
// order against launches and terminations.
type Balanced struct {
	*Recorder

	lbMu    sync.Mutex
	targets map[string]provider.Instance
	removed bool
}

var _ provider.LoadBalancer = (*Balanced)(nil)

// NewBalanced returns a Balanced on a new provider on cloud.
func NewBalanced(cloud *Cloud, opts Options) *Balanced {
	return &Balanced{Recorder: NewRecorder(cloud, opts), targets: map[string]provider.Instance{}}
}

func (b *Balanced) LoadBalancerEnabled() bool { return true }

func (b *Balanced) EnsureLoadBalancer(ctx context.Context, cluster provider.ClusterID) (provider.LBStatus, error) {
	b.lbMu.Lock()
	b.removed = false
	b.lbMu.Unlock()
	st, _ := b.LoadBalancerStatus(ctx, cluster)
	return *st, nil
}

func (b *Balanced) Register(_ context.Context, _ provider.ClusterID, inst provider.Instance) error {
	b.lbMu.Lock()
	defer b.lbMu.Unlock()
	if _, ok := b.targets[inst.ID]; !ok {
		b.record("register " + inst.ID)
		b.targets[inst.ID] = inst
	}
	return nil
}

func (b *Balanced) Deregister(_ context.Context, _ provider.ClusterID, inst provider.Instance) error {
	b.lbMu.Lock()
	defer b.lbMu.Unlock()
	if _, ok := b.targets[inst.ID]; ok {
		b.record("deregister " + inst.ID)
		delete(b.targets, inst.ID)
	}
	return nil
}

func (b *Balanced) LoadBalancerStatus(context.Context, provider.ClusterID) (*provider.LBStatus, error) {
	b.lbMu.Lock()
	defer b.lbMu.Unlock()
	st := &provider.LBStatus{Address: "fake-lb", State: "running", Targets: []provider.LBTarget{}}
	for id, i := range b.targets {
		st.Targets = append(st.Targets, provider.LBTarget{InstanceID: id, Address: i.IP, State: "healthy"})
	}
	sort.Slice(st.Targets, func(i, j int) bool { return st.Targets[i].InstanceID < st.Targets[j].InstanceID })
	return st, nil
}

func (b *Balanced) RemoveLoadBalancer(context.Context, provider.ClusterID) error {
	b.lbMu.Lock()
	defer b.lbMu.Unlock()
	b.record("remove-lb")
	b.removed = true
	return nil
}

// Targets are the registered instance ids, sorted.
func (b *Balanced) Targets() []string {
	b.lbMu.Lock()
	defer b.lbMu.Unlock()
	var ids []string
	for id := range b.targets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
