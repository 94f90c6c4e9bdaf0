package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// usesAWSLogs reports `logging.driver: awslogs`.
func (p *ec2Provider) usesAWSLogs() bool { return p.cluster.Logging.Driver == "awslogs" }

// ensureLogGroup creates the log group with its retention, idempotently:
// one call when it already exists as configured.
func (p *ec2Provider) ensureLogGroup(ctx context.Context) error {
	group, days := p.cluster.Logging.Group, int32(p.cluster.Logging.Retention)
	out, err := p.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil {
		return wrapErr("look up log group "+group, err)
	}
	exists := false
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == group {
			if aws.ToInt32(g.RetentionInDays) == days {
				return nil
			}
			exists = true
		}
	}
	if !exists {
		var already *types.ResourceAlreadyExistsException
		if _, err := p.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil && !asErr(err, &already) {
			return wrapErr("create log group "+group, err)
		}
	}
	if _, err := p.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(group), RetentionInDays: aws.Int32(days)}); err != nil {
		return wrapErr("set retention of log group "+group, err)
	}
	p.logf("log group %s keeps logs %d days", group, days)
	return nil
}
