package aws

import "github.com/aws/aws-sdk-go-v2/service/ec2"

type ec2Client = ec2.Client

// Exports for the end-to-end tests in package aws_test, which drive the
// real command line (internal/app) and so cannot live in package aws.
var (
	RequireMoto  = requireMoto
	NewWorld     = newWorld
	WriteProject = writeProject
	ClusterYAML  = clusterYAML
	Uniq         = uniq
	TestContext  = testContext
)

type World = world

func (w *world) EC2() *ec2Client { return w.ec2 }
func (w *world) AMI() string     { return w.ami }
func (w *world) Subnet() string  { return w.subnet }
func (p *project) Dir() string   { return p.dir }

func (w *world) VPC() string     { return w.vpc }
func (w *world) IP(h int) string { return w.ip(h) }
func (w *world) CIDR() string    { return w.cidr }
func (w *world) SG() string      { return w.sg }
func (w *world) Key() string     { return w.key }
func (w *world) AMIName() string { return w.amiName }

func (w *world) Subnet2() string { return w.subnet2 }
