package aws

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// UserData returns the user data an instance was launched with, decoded
// (for `plan --diff`): one DescribeInstanceAttribute. An instance launched
// without user data has "".
func (p *ec2Provider) UserData(ctx context.Context, instanceID string) (string, error) {
	out, err := p.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
		InstanceId: aws.String(instanceID), Attribute: ec2types.InstanceAttributeNameUserData,
	})
	if err != nil {
		return "", wrapErr("read the user data of "+instanceID, err)
	}
	if out.UserData == nil || aws.ToString(out.UserData.Value) == "" {
		return "", nil
	}
	b, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
	if err != nil {
		return "", fmt.Errorf("user data of %s is not base64: %w", instanceID, err)
	}
	return string(b), nil
}
