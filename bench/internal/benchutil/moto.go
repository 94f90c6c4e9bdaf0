package benchutil

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// World is what an AWS benchmark's clusters live in, made directly in
// moto: a VPC 10.N.0.0/16 with one subnet, a security group, a key pair
// and an image tagged by name.
type World struct {
	Subnet, SG, Key, AMIName, CIDR string
}

// NewWorld makes world n; prefix names its key pair and image.
func NewWorld(ctx context.Context, c *ec2.Client, n int, prefix string) (*World, error) {
	w := &World{CIDR: fmt.Sprintf("10.%d", n), Key: fmt.Sprintf("%s-key-%d-%d", prefix, n, time.Now().UnixNano()), AMIName: fmt.Sprintf("%s-image-%d", prefix, n)}
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(w.CIDR + ".0.0/16")})
	if err != nil {
		return nil, err
	}
	sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(w.CIDR + ".1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		return nil, err
	}
	w.Subnet = aws.ToString(sn.Subnet.SubnetId)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(w.Key), Description: aws.String("bench"), VpcId: vpc.Vpc.VpcId})
	if err != nil {
		return nil, err
	}
	w.SG = aws.ToString(sg.GroupId)
	if _, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(w.Key)}); err != nil {
		return nil, err
	}
	img, err := c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String(w.AMIName + "-" + w.Key)})
	if err != nil {
		return nil, err
	}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(img.ImageId)}, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(w.AMIName)}}})
	return w, err
}
