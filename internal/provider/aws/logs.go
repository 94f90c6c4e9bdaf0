package aws

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/cloud-compose/cloud-compose-go/internal/config"
)

// retentionDays are the values CloudWatch Logs accepts for retentionInDays
// (PutRetentionPolicy API reference).
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// usesAWSLogs reports `logging.driver: awslogs`.
func (p *ec2Provider) usesAWSLogs() bool { return p.cluster.Logging.Driver == "awslogs" }

// checkLogging checks the log group settings before any call.
func (p *ec2Provider) checkLogging() []config.Problem {
	if !p.usesAWSLogs() {
		return nil
	}
	var probs []config.Problem
	if p.cluster.Logging.Group == "" {
		probs = append(probs, p.cluster.Problem([]string{"logging", "meta", "group"}, "logging.driver is awslogs but logging.meta.group names no log group"))
	}
	if r := p.cluster.Logging.Retention; !slices.Contains(retentionDays, r) {
		probs = append(probs, p.cluster.Problem([]string{"logging", "meta", "retention"}, "%d days is not a CloudWatch Logs retention; use one of %v", r, retentionDays))
	}
	return probs
}

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
