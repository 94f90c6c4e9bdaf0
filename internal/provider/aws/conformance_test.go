package aws

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/aws/awstest"
	"github.com/cloud-compose/cloud-compose-go/internal/provider/providertest"
)

// The provider conformance suite on moto, through the awstest proxy, which
// supplies the two EC2 behaviours moto lacks and the contract relies on:
// RunInstances idempotent per ClientToken, and a taken private IP answered
// InvalidIPAddress.InUse. Each case gets its own VPC and subnet (newWorld);
// cluster names are unique, so no other test's instances share them. The
// AWS provider finds a taken IP both ways: Resolve with Check asks
// DescribeNetworkInterfaces who holds the nodes' IPs, and Launch turns
// EC2's InvalidIPAddress.InUse into an *provider.IPInUseError naming the
// holder. It implements no Watcher. moto ignores RunInstances'
// DisableApiTermination, so the harness protects instances of protected
// clusters after the launch, as EC2 would have at launch.
func TestIntegrationConformance(t *testing.T) {
	requireMoto(t)
	providertest.Run(t, providertest.Harness{
		NewCloud: func(t *testing.T) providertest.Cloud {
			px, err := awstest.New(os.Getenv("AWS_ENDPOINT_URL"), awstest.Options{EC2: true})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(px)
			t.Cleanup(srv.Close)
			t.Setenv("AWS_ENDPOINT_URL", srv.URL)
			w := newWorld(t, context.Background())
			return providertest.Cloud{
				Open: func(t *testing.T, c providertest.Cluster) providertest.Opened {
					var b strings.Builder
					fmt.Fprintf(&b, "cluster:\n  name: %s\n  search_path: [templates]\n  aws:\n    ami: %s\n    keypair: %s\n    security_groups: %s\n    instance_type: t3.micro\n    terminate_protection: %t\n    nodes:\n",
						c.Name, w.amiName, w.key, w.sg, c.Protected)
					for i := range c.Nodes {
						fmt.Fprintf(&b, "      - {id: %d, ip: %s, subnet: %s}\n", i, w.ip(10+c.FirstIP+i), w.subnet)
					}
					pr := writeProject(t, b.String())
					calls := newCallCounter()
					p, err := provider.Open(withHooks(context.Background(), counterHooks(calls)), pr.cluster, provider.Options{})
					if err != nil {
						t.Fatal(err)
					}
					return providertest.Opened{
						Provider: p,
						Nodes:    pr.cluster.Nodes(),
						UserData: "#!/bin/bash\necho conformance\n",
						Calls:    calls.Total,
					}
				},
				Protect: func(t *testing.T, id string) {
					if _, err := w.ec2.ModifyInstanceAttribute(context.Background(), &ec2.ModifyInstanceAttributeInput{
						InstanceId: aws.String(id), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)},
					}); err != nil {
						t.Fatal(err)
					}
				},
			}
		},
		IPConflict: providertest.IPConflict{Resolve: true, Launch: true},
		Watcher:    false,
	})
}
