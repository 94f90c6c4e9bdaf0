package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Name is the provider's name in the registry and in `cluster.provider`.
const Name = "aws"

// Defaults.
const (
	// DefaultRegion is used when neither AWS_REGION nor the profile names
	// one, as the original did.
	DefaultRegion = "us-east-1"
	// DefaultParallel caps concurrent launches when --parallel is not given.
	DefaultParallel = 10
	// RunInstancesBurst and RunInstancesRate are EC2's published token
	// bucket for RunInstances (mutating "resource-intensive" actions):
	// 5 requests of burst, refilled at 2 per second.
	// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
	RunInstancesBurst = 5
	RunInstancesRate  = 2
	// MaxAttempts is how often the SDK's retryer tries one call (throttling,
	// 5xx, the instance profile not yet visible to EC2).
	MaxAttempts = 8
	// MaxBackoff caps the retryer's backoff between attempts.
	MaxBackoff = 10 * time.Second
)

func init() { provider.Register(Name, open) }

var _ provider.Provider = (*ec2Provider)(nil)
var _ provider.GroupProvider = (*ec2Provider)(nil)
var _ provider.Cleaner = (*ec2Provider)(nil)
var _ provider.Ensurer = (*ec2Provider)(nil)
var _ provider.UserDataReader = (*ec2Provider)(nil)

// ec2Provider runs a cluster on EC2.
type ec2Provider struct {
	cluster *config.Cluster
	aws     *config.AWS
	opts    provider.Options
	region  string

	ec2  *ec2.Client
	asg  *autoscaling.Client
	iam  *iam.Client
	logs *cloudwatchlogs.Client
	elb  *elasticloadbalancingv2.Client // target groups (lb.go)

	// runPacer paces RunInstances attempts to EC2's token bucket.
	runPacer *rate.Limiter
	// nonce makes client tokens unique per run (see clientToken).
	nonce string

	logMu sync.Mutex

	// The cluster's network (network.go), looked up at most once: a pure
	// memo of lookups (configured subnets, their VPCs), never state that
	// changes what a call does — the provider keeps nothing between calls.
	netMu   sync.Mutex
	subnets map[string]subnet // configured subnets that exist; nil until looked up
	vpcOf   map[string]string // configured subnet -> VPC, as far as known

	// ensureMu guards Ensure's one run (ensure.go).
	ensureMu  sync.Mutex
	ensured   bool
	ensureErr error
}

// hooks lets tests (and the benchmark) attach SDK middleware to every
// client, e.g. a call counter.
type hooks struct {
	apiOptions []func(*middleware.Stack) error
}

type hooksKey struct{}

// withHooks returns a context whose provider clients get the hooks' API
// options (tests only).
func withHooks(ctx context.Context, h *hooks) context.Context {
	return context.WithValue(ctx, hooksKey{}, h)
}

func open(ctx context.Context, c *config.Cluster, opts provider.Options) (provider.Provider, error) {
	if c.AWS == nil {
		return nil, fmt.Errorf("%w: the cluster has no `aws:` section", provider.ErrNoProvider)
	}
	cfg, err := loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	if h, ok := ctx.Value(hooksKey{}).(*hooks); ok && h != nil {
		cfg.APIOptions = append(cfg.APIOptions, h.apiOptions...)
	}
	p := &ec2Provider{
		cluster:  c,
		aws:      c.AWS,
		opts:     opts,
		region:   cfg.Region,
		runPacer: rate.NewLimiter(RunInstancesRate, RunInstancesBurst),
		nonce:    randomNonce(),
		vpcOf:    map[string]string{},
	}
	ec2cfg := cfg.Copy()
	ec2cfg.APIOptions = append(ec2cfg.APIOptions, p.paceRunInstances)
	p.ec2 = ec2.NewFromConfig(ec2cfg)
	p.asg = autoscaling.NewFromConfig(cfg)
	p.iam = iam.NewFromConfig(cfg)
	p.logs = cloudwatchlogs.NewFromConfig(cfg)
	p.elb = elasticloadbalancingv2.NewFromConfig(cfg)
	return p, nil
}

// loadConfig loads the SDK's default configuration (environment, shared
// config and credentials files, profiles including SSO, instance role,
// AWS_ENDPOINT_URL*), with the region defaulting to us-east-1 and the
// retryer in adaptive mode.
func loadConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRetryer(newRetryer),
	)
	if err != nil {
		return aws.Config{}, wrapErr("load AWS configuration", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}

func newRetryer() aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = MaxAttempts
			so.MaxBackoff = MaxBackoff
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(profileNotVisible)}, so.Retryables...)
		})
	})
}

// profileNotVisible retries RunInstances while a just-created instance
// profile is not yet visible to EC2 (IAM is eventually consistent): EC2
// answers InvalidParameterValue "Invalid IAM Instance Profile name". The
// retryer's attempt limit bounds it.
func profileNotVisible(err error) aws.Ternary {
	var ae smithy.APIError
	if !asAPIError(err, &ae) {
		return aws.UnknownTernary
	}
	msg := ae.ErrorMessage()
	if ae.ErrorCode() == "InvalidParameterValue" &&
		(strings.Contains(msg, "Invalid IAM Instance Profile") || strings.Contains(msg, "Invalid IamInstanceProfile")) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

func randomNonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logf writes a progress line to Options.Log; launches run concurrently,
// so lines are written one at a time.
func (p *ec2Provider) logf(format string, args ...any) {
	if p.opts.Log != nil {
		p.logMu.Lock()
		defer p.logMu.Unlock()
		fmt.Fprintf(p.opts.Log, format+"\n", args...)
	}
}

func (p *ec2Provider) parallel() int {
	if p.opts.Parallel > 0 {
		return p.opts.Parallel
	}
	return DefaultParallel
}

// clusterName is the cluster's name as tags, the group and IAM use it.
func (p *ec2Provider) clusterName() string { return p.cluster.Name }

// id is the cluster and its environment.
func (p *ec2Provider) id() provider.ClusterID {
	return provider.ClusterID{Name: p.cluster.Name, Env: p.cluster.Env}
}

// GroupMode reports whether the cluster runs as an auto scaling group.
func (p *ec2Provider) GroupMode() bool { return p.aws.ASG != nil }

// forEach runs fn for every index with at most n at once and joins the
// errors in index order.
func forEach(ctx context.Context, count, n int, fn func(ctx context.Context, i int) error) error {
	if n <= 0 {
		n = 1
	}
	errs := make([]error, count)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(ctx, i)
		}(i)
	}
	wg.Wait()
	return joinErrs(errs)
}
