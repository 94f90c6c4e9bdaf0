package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"go.yaml.in/yaml/v3"

	"github.com/cloud-compose/cloud-compose-go/internal/testbin"
)

// binary is the cloud-compose binary testbin.Main builds for the
// package's integration tests (TestIntegrationMalformed and any other).
var binary string

func TestMain(m *testing.M) {
	testbin.Main(m, func(b string) { binary = b })
}

// malformedExpect is a case's expect.yml: what `cluster up` must do with
// the project next to it.
type malformedExpect struct {
	// Exit is the exit code: 2 for a configuration error, 1 for a cloud
	// failure found before anything was created.
	Exit int `yaml:"exit"`
	// Stderr is a regexp stderr must match: the message, with file:line
	// where the problem has a line.
	Stderr string `yaml:"stderr"`
	// Key, when set, must appear as is in stderr (e.g. cluster.name).
	Key string `yaml:"key"`
	// Stdout is a regexp stdout must match; empty: stdout must be empty.
	Stdout string `yaml:"stdout"`
	// AWS runs the case against moto, with MAL_AMI, MAL_KEY, MAL_SG,
	// MAL_SUBNET, MAL_NET (e.g. 10.77, the subnet is MAL_NET.1.0/24) and
	// MAL_EIP set for the config to use.
	AWS bool `yaml:"aws"`
	// Env is added to the environment of the run.
	Env map[string]string `yaml:"env"`
	// Offline lists commands (`config`, `cluster plan`) that must report
	// the same problem, exit 2, with no AWS credentials and no network
	// call (TestIntegrationConfigErrorsOffline).
	Offline []string `yaml:"offline"`
	// Needs says which fix the case relies on (documentation only).
	Needs string `yaml:"needs"`
}

// Limits every malformed input must stay within.
const (
	malformedTimeout = 20 * time.Second // SIGKILL after; the case fails
	malformedMaxRSS  = 100 << 20        // bytes of peak resident memory
	malformedVMLimit = 2 << 20          // KiB of address space (ulimit -v), so a bomb cannot take the machine
)

// TestIntegrationMalformed runs `cloud-compose cluster up` on every
// project under testdata/malformed and checks, per case, the exit code, the
// message (file:line and key), an empty stdout, bounded time and memory,
// and that nothing was created: the local store and the project directory
// are unchanged, no process runs for the store, and moto has no new
// instance, IAM role or profile, log group, auto scaling group or launch
// template. Adding a case is adding a folder.
func TestIntegrationMalformed(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs the binary on every malformed input, against moto for aws cases")
	}
	moto := os.Getenv("CLOUD_COMPOSE_TEST_MOTO")
	if moto == "" {
		t.Fatal("CLOUD_COMPOSE_TEST_MOTO is not set: run the tests with scripts/test, which starts a moto server and sets AWS_ENDPOINT_URL (or use -short to skip integration tests)")
	}
	root := filepath.Join("testdata", "malformed")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cloud := newMalformedCloud(t, ctx, moto)
	n := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		n++
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(root, name)
			raw, err := os.ReadFile(filepath.Join(src, "expect.yml"))
			if err != nil {
				t.Fatal(err)
			}
			var want malformedExpect
			dec := yaml.NewDecoder(bytes.NewReader(raw))
			dec.KnownFields(true)
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("%s/expect.yml: %v", src, err)
			}
			if want.Exit == 0 || want.Stderr == "" {
				t.Fatalf("%s/expect.yml: exit and stderr are required", src)
			}
			runMalformedCase(t, ctx, cloud, src, want)
		})
	}
	if n < 60 {
		t.Errorf("the corpus has %d cases; it must keep at least 60", n)
	}
}

func runMalformedCase(t *testing.T, ctx context.Context, cloud *malformedCloud, src string, want malformedExpect) {
	work := t.TempDir()
	proj := filepath.Join(work, filepath.Base(src))
	copyCase(t, src, proj)
	store := filepath.Join(work, "store")
	home := filepath.Join(work, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pids := testbin.KillAll(store); len(pids) > 0 {
			t.Errorf("processes left running for the store (killed): %v", pids)
		}
	})

	env := malformedEnv(cloud, store, home)
	primeStore(t, ctx, work, env)
	storeBefore, projBefore := treeListing(t, store), treeListing(t, proj)
	var awsBefore []string
	if want.AWS {
		awsBefore = cloud.resources(t, ctx)
	}

	for k, v := range want.Env {
		env = append(env, k+"="+v)
	}
	cctx, cancel := context.WithTimeout(ctx, malformedTimeout)
	defer cancel()
	// sh applies the address-space limit, then execs the binary (same pid,
	// so its rusage is the binary's).
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, malformedVMLimit),
		binary, "-C", proj, "cluster", "up")
	cmd.Dir = work
	cmd.Env = env
	peak := testbin.Measure(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run: %v", err)
		}
		code = ee.ExitCode()
	}
	if cctx.Err() != nil {
		t.Errorf("still running after %s (killed)", malformedTimeout)
	}
	rss := peak() << 10 // KiB on Linux
	t.Logf("exit %d in %s, peak RSS %d MiB\nstderr:\n%s", code, took.Round(time.Millisecond), rss>>20, stderr.String())
	if want.Needs != "" {
		t.Logf("needs: %s", want.Needs)
	}

	if code != want.Exit {
		t.Errorf("exit code %d, want %d", code, want.Exit)
	}
	if re, err := regexp.Compile(want.Stderr); err != nil {
		t.Errorf("expect.yml stderr: %v", err)
	} else if !re.MatchString(stderr.String()) {
		t.Errorf("stderr does not match %q", want.Stderr)
	}
	if want.Key != "" && !strings.Contains(stderr.String(), want.Key) {
		t.Errorf("stderr does not name the key %s", want.Key)
	}
	if strings.Contains(stderr.String(), "goroutine ") || strings.Contains(stderr.String(), "panic:") {
		t.Errorf("the binary crashed (a Go runtime trace on stderr)")
	}
	if want.Stdout == "" && stdout.Len() > 0 {
		t.Errorf("stdout is not empty:\n%s", stdout.String())
	} else if want.Stdout != "" && !regexp.MustCompile(want.Stdout).MatchString(stdout.String()) {
		t.Errorf("stdout does not match %q:\n%s", want.Stdout, stdout.String())
	}
	if rss > malformedMaxRSS {
		t.Errorf("peak RSS %d MiB; bounded input handling stays under %d MiB", rss>>20, malformedMaxRSS>>20)
	}

	// nothing created
	if pids := testbin.Processes(store); len(pids) > 0 {
		t.Errorf("processes run for the store: %v", pids)
	}
	if after := treeListing(t, store); !sameLines(storeBefore, after) {
		t.Errorf("the local store changed:\nbefore: %v\nafter:  %v", storeBefore, after)
	}
	if after := treeListing(t, proj); !sameLines(projBefore, after) {
		t.Errorf("the project directory changed:\nbefore: %v\nafter:  %v", projBefore, after)
	}
	if want.AWS {
		if after := cloud.resources(t, ctx); !sameLines(awsBefore, after) {
			t.Errorf("moto changed:\nbefore: %v\nafter:  %v", awsBefore, after)
		}
	}
}

// primeStore makes the local store exist, as any user's has after a first
// command, by running `cluster status` on a valid project: a command may
// open (create) the store before it finds a problem, which is not creating
// anything; what is compared is the store before and after the case.
func primeStore(t *testing.T, ctx context.Context, work string, env []string) {
	t.Helper()
	dir := filepath.Join(work, "primer")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "cluster:\n  name: mal-primer\n  search_path: [templates]\n  local:\n    nodes: [{id: 1, ip: 127.0.77.99}]\n"
	if err := os.WriteFile(filepath.Join(dir, "cloud-compose.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "cluster.sh"), []byte("echo primer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, binary, "-C", dir, "cluster", "status")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prime the local store with cluster status: %v\n%s", err, out)
	}
}

// malformedEnv is the environment of a run: the caller's, without any
// cloud-compose or AWS setting, plus a private store and home and moto's
// endpoint with test credentials (never a real account).
func malformedEnv(cloud *malformedCloud, store, home string) []string {
	return append(cleanEnv(),
		"HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, "state"),
		"CLOUD_COMPOSE_LOCAL_DIR="+store,
		"AWS_ENDPOINT_URL="+cloud.endpoint, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_REGION=us-east-1",
		"MAL_AMI="+cloud.ami, "MAL_KEY="+cloud.key, "MAL_SG="+cloud.sg, "MAL_SUBNET="+cloud.subnet, "MAL_NET="+cloud.net,
		"MAL_EIP="+cloud.eip)
}

// malformedCloud is the moto world aws cases run in: a VPC with a subnet,
// a security group, a key pair, a registered image and an elastic IP.
type malformedCloud struct {
	endpoint                            string
	ec2                                 *ec2.Client
	iam                                 *iam.Client
	logs                                *cloudwatchlogs.Client
	asg                                 *autoscaling.Client
	vpc, subnet, sg, key, ami, net, eip string
}

func newMalformedCloud(t *testing.T, ctx context.Context, endpoint string) *malformedCloud {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"), awsconfig.WithBaseEndpoint(endpoint),
		awsconfig.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	c := &malformedCloud{endpoint: endpoint, ec2: ec2.NewFromConfig(cfg), iam: iam.NewFromConfig(cfg),
		logs: cloudwatchlogs.NewFromConfig(cfg), asg: autoscaling.NewFromConfig(cfg), net: "10.77"}
	vpc, err := c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(c.net + ".0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	c.vpc = aws.ToString(vpc.Vpc.VpcId)
	sn, err := c.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(c.net + ".1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		t.Fatal(err)
	}
	c.subnet = aws.ToString(sn.Subnet.SubnetId)
	sg, err := c.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(malUniq("mal-sg")), Description: aws.String("malformed corpus"), VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	c.sg = aws.ToString(sg.GroupId)
	c.key = malUniq("mal-key")
	if _, err := c.ec2.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(c.key)}); err != nil {
		t.Fatal(err)
	}
	img, err := c.ec2.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String(malUniq("mal-image"))})
	if err != nil {
		t.Fatal(err)
	}
	c.ami = aws.ToString(img.ImageId)
	eip, err := c.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	c.eip = aws.ToString(eip.AllocationId)
	return c
}

func malUniq(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// malformedOwned reports a name a case may have given to what it created: the
// corpus's aws clusters and log groups are named mal-….
func malformedOwned(name string) bool { return strings.HasPrefix(name, "mal-") }

// resources lists, sorted, what an aws case could have created: instances
// in the corpus's VPC (with their state), the elastic IP's association, and
// the IAM roles and instance profiles, log groups, auto scaling groups and
// launch templates with its names. Other tests share the moto server, so
// what they create is left out.
func (c *malformedCloud) resources(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var out []string
	add := func(err error, kind string, names ...*string) {
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if malformedOwned(aws.ToString(n)) {
				out = append(out, kind+" "+aws.ToString(n))
			}
		}
	}
	pi := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{c.vpc}}}})
	for pi.HasMorePages() {
		page, err := pi.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				state := ""
				if in.State != nil {
					state = string(in.State.Name)
				}
				out = append(out, fmt.Sprintf("instance %s %s", aws.ToString(in.InstanceId), state))
			}
		}
	}
	addr, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{c.eip}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addr.Addresses {
		out = append(out, fmt.Sprintf("eip %s associated with %q", c.eip, aws.ToString(a.InstanceId)))
	}
	for p := iam.NewListRolesPaginator(c.iam, &iam.ListRolesInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		add(err, "")
		for _, r := range page.Roles {
			add(nil, "role", r.RoleName)
		}
	}
	for p := iam.NewListInstanceProfilesPaginator(c.iam, &iam.ListInstanceProfilesInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		add(err, "")
		for _, r := range page.InstanceProfiles {
			add(nil, "instance profile", r.InstanceProfileName)
		}
	}
	for p := cloudwatchlogs.NewDescribeLogGroupsPaginator(c.logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("mal-")}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		add(err, "")
		for _, g := range page.LogGroups {
			add(nil, "log group", g.LogGroupName)
		}
	}
	for p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.asg, &autoscaling.DescribeAutoScalingGroupsInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		add(err, "")
		for _, g := range page.AutoScalingGroups {
			add(nil, "auto scaling group", g.AutoScalingGroupName)
		}
	}
	for p := ec2.NewDescribeLaunchTemplatesPaginator(c.ec2, &ec2.DescribeLaunchTemplatesInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		add(err, "")
		for _, lt := range page.LaunchTemplates {
			add(nil, "launch template", lt.LaunchTemplateName)
		}
	}
	sort.Strings(out)
	return out
}

// treeListing lists every path under dir with its mode and, for files,
// the content's size and SHA-256, so two listings are equal only when the
// tree is byte for byte the same. A missing dir is listed as such.
func treeListing(t *testing.T, dir string) []string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return []string{"(does not exist)"}
	}
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %s", rel, info.Mode())
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %d %x", len(b), sha256.Sum256(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyCase(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == "expect.yml" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// cleanEnv is this process's environment without any cloud-compose or AWS
// setting, HOME or XDG_STATE_HOME (nor the corpus's MAL_ variables): a
// test adds its own.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "CLOUD_COMPOSE_") || strings.HasPrefix(k, "MAL_") ||
			k == "HOME" || k == "XDG_STATE_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
