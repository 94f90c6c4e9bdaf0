package benchutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// StartMoto starts moto_server (scripts/test's pinned venv if present,
// else PATH) on a free port, its log in tmp; it returns the URL and a stop
// function.
func StartMoto(root, tmp string) (string, func(), error) {
	bin := filepath.Join(root, ".cache", "moto-5.2.5", "bin", "moto_server")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("moto_server"); err != nil {
			return "", nil, fmt.Errorf("no moto_server: run scripts/test once (it installs the pinned moto) or pass -moto URL")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.Create(filepath.Join(tmp, "moto.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// Without moto's thousands of built-in public images, DescribeImages
	// and DescribeSnapshots cost what EC2's do (the proxy adds that), not
	// a scan of the emulator's catalogue. Both implementations benefit.
	cmd.Env = append(os.Environ(), "MOTO_EC2_LOAD_DEFAULT_AMIS=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", nil, fmt.Errorf("moto_server did not start; see %s", logf.Name())
}
