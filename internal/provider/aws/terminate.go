package aws

import (
	"context"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// Terminate terminates instances, honouring termination protection itself
// rather than relying on EC2's refusal (an emulator may not refuse):
// without force, the disableApiTermination attribute of every instance is
// read first, and if any is protected nothing is terminated and an
// *provider.ProtectedError lists them. With force, protection is turned
// off first, as the original's --force did.
func (p *ec2Provider) Terminate(ctx context.Context, ids []string, force bool) error {
	if len(ids) == 0 {
		return nil
	}
	if force {
		err := forEach(ctx, len(ids), p.parallel(), func(ctx context.Context, i int) error {
			_, err := p.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(ids[i]), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)},
			})
			return wrapErr("turn termination protection off on "+ids[i], err)
		})
		if err != nil {
			return err
		}
	} else {
		var mu sync.Mutex
		var protected []string
		err := forEach(ctx, len(ids), p.parallel(), func(ctx context.Context, i int) error {
			out, err := p.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
				InstanceId: aws.String(ids[i]), Attribute: ec2types.InstanceAttributeNameDisableApiTermination,
			})
			if err != nil {
				return wrapErr("read termination protection of "+ids[i], err)
			}
			if out.DisableApiTermination != nil && aws.ToBool(out.DisableApiTermination.Value) {
				mu.Lock()
				protected = append(protected, ids[i])
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(protected) > 0 {
			sort.Strings(protected)
			pe := &provider.ProtectedError{}
			p.mu.Lock()
			for _, id := range protected {
				in, ok := p.observed[id]
				if !ok {
					in = provider.Instance{ID: id}
				}
				in.Protected = true
				pe.Instances = append(pe.Instances, in)
			}
			p.mu.Unlock()
			return pe
		}
	}
	for start := 0; start < len(ids); start += maxInstanceIDs {
		chunk := ids[start:min(start+maxInstanceIDs, len(ids))]
		if _, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: chunk}); err != nil {
			return wrapErr("", err)
		}
	}
	p.logf("terminating %d instance(s)", len(ids))
	return nil
}
