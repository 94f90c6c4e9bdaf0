package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

// requireMoto skips under -short and fails (not skips) when the moto
// server scripts/test starts is not there.
func requireMoto(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against moto; skipped under -short")
	}
	if os.Getenv("CLOUD_COMPOSE_TEST_MOTO") == "" {
		t.Fatal("CLOUD_COMPOSE_TEST_MOTO is not set: run the tests with scripts/test, which starts a moto server and sets AWS_ENDPOINT_URL (or use -short to skip integration tests)")
	}
}

func uniq(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// world is what a test cluster runs in: a VPC and subnet, a security
// group, a key pair and an image tagged by name, made with a plain client
// (no counter).
type world struct {
	ec2     *ec2.Client
	vpc     string
	subnet  string
	subnet2 string
	sg      string
	key     string
	amiName string
	ami     string // newest image with Name=amiName
	cidr    string // e.g. 10.23
}

var cidrMu sync.Mutex
var cidrNext = 10

func newWorld(t *testing.T, ctx context.Context) *world {
	t.Helper()
	cfg, err := loadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ec2.NewFromConfig(cfg)
	cidrMu.Lock()
	cidrNext++
	n := cidrNext
	cidrMu.Unlock()
	w := &world{ec2: c, cidr: fmt.Sprintf("10.%d", n)}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(w.cidr + ".0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	w.vpc = aws.ToString(vpc.Vpc.VpcId)
	for i, dst := range []*string{&w.subnet, &w.subnet2} {
		sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("%s.%d.0/24", w.cidr, i+1)), AvailabilityZone: aws.String("us-east-1a")})
		if err != nil {
			t.Fatal(err)
		}
		*dst = aws.ToString(sn.Subnet.SubnetId)
	}
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(uniq("sg")), Description: aws.String("test"), VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	w.sg = aws.ToString(sg.GroupId)
	w.key = uniq("key")
	if _, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(w.key)}); err != nil {
		t.Fatal(err)
	}
	w.amiName = uniq("image")
	w.ami = w.registerImage(t, ctx, w.amiName)
	return w
}

// registerImage registers an image tagged Name=name and returns its id.
func (w *world) registerImage(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	img, err := w.ec2.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String(uniq(name))})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(img.ImageId)
	if _, err := w.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// ip returns host h of subnet 1.
func (w *world) ip(h int) string { return fmt.Sprintf("%s.1.%d", w.cidr, h) }

// project writes a project (cloud-compose.yml and a cluster.sh template)
// and loads its cluster.
type project struct {
	dir     string
	cluster *config.Cluster
}

const clusterTemplate = `#!/bin/bash
# node {{ _node_id }} of {{ name }} on {{ aws.ami }}{% if aws.ami_name is defined %} ({{ aws.ami_name }}){% endif %}
{% for v in aws.volumes|default([]) %}{% if v.snapshot is defined %}echo volume {{ v.block }} from {{ v.snapshot }}
{% endif %}{% endfor %}`

func writeProject(t *testing.T, yml string) *project {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "cluster.sh"), []byte(clusterTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cloud-compose.yml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := config.Parse(path, []byte(yml), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadCluster(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &project{dir: dir, cluster: c}
}

// clusterYAML is a static-node cluster of n nodes in w. extra is added
// under `aws:` (indented by four spaces by the caller), top under `cluster:`.
func clusterYAML(w *world, name string, n int, extraAWS, top string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster:\n  name: %s\n  search_path: [templates]\n%s  aws:\n    ami: %s\n    keypair: %s\n    security_groups: %s\n    instance_type: t3.micro\n    terminate_protection: false\n%s    nodes:\n",
		name, top, w.amiName, w.key, w.sg, extraAWS)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - {id: %d, ip: %s, subnet: %s}\n", i, w.ip(10+i), w.subnet)
	}
	return b.String()
}

// harness opens the provider for a project with a call counter.
type harness struct {
	t       *testing.T
	p       *ec2Provider
	calls   *callCounter
	project *project
	id      provider.ClusterID
}

func openHarness(t *testing.T, ctx context.Context, pr *project, opts provider.Options) *harness {
	t.Helper()
	calls := newCallCounter()
	pv, err := provider.Open(withHooks(ctx, counterHooks(calls)), pr.cluster, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, p: pv.(*ec2Provider), calls: calls, project: pr, id: provider.ClusterID{Name: pr.cluster.Name}}
}

// upResult is what the engine's `up` would report.
type upResult struct {
	created   []provider.Instance
	unchanged []string // node ids
	failed    map[string]error
	userData  map[string]string        // node id -> rendered script
	specs     map[string]provider.Spec // node id -> the spec launched
}

// up does what the engine's `up` does with the provider for static nodes:
// observe, resolve (with the pre-launch checks), render and launch each
// missing node that is not blocked, wait.
func (h *harness) up(ctx context.Context, opts provider.UpOptions) (*upResult, error) {
	c := h.project.cluster
	observed, err := h.p.Instances(ctx, h.id)
	if err != nil {
		return nil, err
	}
	res := &upResult{failed: map[string]error{}, userData: map[string]string{}, specs: map[string]provider.Spec{}}
	var launch []config.Node
	for _, n := range c.Nodes() {
		if provider.MatchNode(observed, n).Live != nil {
			res.unchanged = append(res.unchanged, n.ID)
			continue
		}
		launch = append(launch, n)
	}
	resolved, err := h.p.Resolve(ctx, h.id, observed, provider.ResolveOptions{UpOptions: opts, Launch: launch, Check: true})
	if err != nil {
		return nil, err
	}
	data, err := render.ResolvedData(c, resolved)
	if err != nil {
		return nil, err
	}
	r, err := render.New(h.project.dir, c, nil)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range launch {
		if err := resolved.Blocked[n.ID]; err != nil {
			res.failed[n.ID] = err
			continue
		}
		script, err := r.Build(c, render.Options{Data: data, NodeID: c.NodeIDValue(n)})
		if err != nil {
			return nil, err
		}
		ud, err := render.Pack(script)
		if err != nil {
			return nil, err
		}
		res.userData[n.ID] = script
		spec := h.p.Spec(n, resolved, ud, nil)
		res.specs[n.ID] = spec
		wg.Add(1)
		go func(n config.Node) {
			defer wg.Done()
			in, err := h.p.Launch(ctx, provider.LaunchSpec{Cluster: h.id, Node: n, Spec: spec, Generation: "1"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.failed[n.ID] = err
				return
			}
			res.created = append(res.created, in)
		}(n)
	}
	wg.Wait()
	running, err := h.p.WaitRunning(ctx, res.created)
	if err != nil {
		return res, err
	}
	res.created = running
	sort.Slice(res.created, func(i, j int) bool { return res.created[i].NodeID < res.created[j].NodeID })
	return res, nil
}

// resolve resolves for the nodes of the project as plan does (no checks)
// or, with launch, as up does before launching them.
func (h *harness) resolve(ctx context.Context, observed []provider.Instance, opts provider.UpOptions, launch []config.Node) (provider.Resolution, error) {
	return h.p.Resolve(ctx, h.id, observed, provider.ResolveOptions{UpOptions: opts, Launch: launch, Check: len(launch) > 0})
}

// down does what the engine's `down` does: terminates the cluster's
// instances, leaving foreign ones alone.
func (h *harness) down(ctx context.Context, force, wait bool) ([]string, error) {
	observed, err := h.p.Instances(ctx, h.id)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, i := range observed {
		if i.Foreign == "" { // as the engine: never another project's
			ids = append(ids, i.ID)
		}
	}
	if err := h.p.Terminate(ctx, ids, force); err != nil {
		return nil, err
	}
	if wait {
		return ids, h.p.WaitTerminated(ctx, ids)
	}
	return ids, nil
}

// budget fails the test when the calls since the last reset exceed max,
// or an operation's count is not as expected.
func (h *harness) budget(max int, exact map[string]int) {
	h.t.Helper()
	h.t.Logf("%d calls: %s", h.calls.Total(), h.calls)
	if got := h.calls.Total(); got > max {
		h.t.Errorf("made %d API calls, budget %d: %s", got, max, h.calls)
	}
	for op, want := range exact {
		if got := h.calls.Count(op); got != want {
			h.t.Errorf("%s: %d calls, want %d (all: %s)", op, got, want, h.calls)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := loadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func counterHooks(c *callCounter) *hooks {
	return &hooks{apiOptions: []func(*middleware.Stack) error{c.apiOption}}
}
