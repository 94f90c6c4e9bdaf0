package aws

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// assumeRolePolicy lets EC2 instances assume the cluster's role.
const assumeRolePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}
  ]
}`

// profileWait bounds the wait for a new instance profile.
const profileWait = 2 * time.Minute

// ensureInstanceProfile makes aws.instance_policy the inline policy of a
// role trusting ec2.amazonaws.com, in an instance profile, all named after
// the cluster — idempotently. A profile that already holds the role costs
// two calls (get, put policy); a new one waits until IAM serves it (EC2's
// own view catches up through the retryer, see profileNotVisible).
func (p *ec2Provider) ensureInstanceProfile(ctx context.Context, policy string) (string, error) {
	name := p.profileName()
	got, err := p.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case err == nil && hasRole(got.InstanceProfile, name):
		if _, err := p.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(name), PolicyDocument: aws.String(policy)}); err != nil {
			return "", wrapErr("put the cluster's role policy", err)
		}
		return name, nil
	case err != nil && !errors.As(err, &nse):
		return "", wrapErr("look up instance profile "+name, err)
	}
	if _, err := p.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String("/"), AssumeRolePolicyDocument: aws.String(assumeRolePolicy)}); err != nil && !isCode(err, "EntityAlreadyExists") {
		return "", wrapErr("create role "+name, err)
	}
	if got == nil || got.InstanceProfile == nil {
		if _, err := p.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name), Path: aws.String("/")}); err != nil && !isCode(err, "EntityAlreadyExists") {
			return "", wrapErr("create instance profile "+name, err)
		}
	}
	// LimitExceeded: the profile already holds a role (a profile holds one).
	if _, err := p.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)}); err != nil && !isCode(err, "LimitExceeded") && !isCode(err, "EntityAlreadyExists") {
		return "", wrapErr("add role to instance profile "+name, err)
	}
	if _, err := p.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(name), PolicyDocument: aws.String(policy)}); err != nil {
		return "", wrapErr("put the cluster's role policy", err)
	}
	w := iam.NewInstanceProfileExistsWaiter(p.iam, func(o *iam.InstanceProfileExistsWaiterOptions) { o.MinDelay = time.Second })
	if err := w.Wait(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)}, profileWait); err != nil {
		return "", wrapErr("wait for instance profile "+name, err)
	}
	p.logf("instance profile %s ready", name)
	return name, nil
}

// profileName names the cluster's role, instance profile and inline
// policy: the cluster name, as the original.
func (p *ec2Provider) profileName() string { return p.id().Qualified() }

func hasRole(ip *iamtypes.InstanceProfile, role string) bool {
	if ip == nil {
		return false
	}
	for _, r := range ip.Roles {
		if aws.ToString(r.RoleName) == role {
			return true
		}
	}
	return false
}

func isCode(err error, code string) bool { return errorCode(err) == code }
