package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

// goneCodes are EC2's answers meaning that what a call acts on no longer
// exists. When an answer is lost on the way back, the SDK retries a call
// that already took effect, and the retry meets the result of the first
// attempt: for a call that removes something (terminate, detach,
// disassociate, release), that is success.
var goneCodes = map[string]bool{
	"InvalidInstanceID.NotFound":         true,
	"InvalidNetworkInterfaceID.NotFound": true,
	"InvalidAssociationID.NotFound":      true,
	"InvalidAttachmentID.NotFound":       true,
	"InvalidAllocationID.NotFound":       true,
	"InvalidVolume.NotFound":             true,
}

// alreadyGone reports an answer that means "already gone".
func alreadyGone(err error) bool { return err != nil && goneCodes[errorCode(err)] }

// ErrForeign is wrapped when a call is asked to act on an instance that
// carries the cluster's name but lies outside the cluster's network.
var ErrForeign = fmt.Errorf("instance outside the cluster's network")

// Terminate terminates instances, honouring termination protection itself
// rather than relying on EC2's refusal (an emulator may not refuse):
// without force, the disableApiTermination attribute of every instance is
// read first, and if any is protected nothing is terminated and an
// *provider.ProtectedError lists them. With force, protection is turned
// off first, as the original's --force did. Instances outside the
// cluster's network (foreign) are refused before anything is done, and an
// instance that is already gone counts as terminated.
func (p *ec2Provider) Terminate(ctx context.Context, ids []string, force bool) error {
	if len(ids) == 0 {
		return nil
	}
	known, err := p.refuseForeign(ctx, ids)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	gone := map[string]bool{}
	if force {
		err := forEach(ctx, len(ids), p.parallel(), func(ctx context.Context, i int) error {
			_, err := p.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
				InstanceId: aws.String(ids[i]), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)},
			})
			if alreadyGone(err) {
				mu.Lock()
				gone[ids[i]] = true
				mu.Unlock()
				return nil
			}
			return wrapErr("turn termination protection off on "+ids[i], err)
		})
		if err != nil {
			return err
		}
	} else {
		var protected []string
		err := forEach(ctx, len(ids), p.parallel(), func(ctx context.Context, i int) error {
			out, err := p.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
				InstanceId: aws.String(ids[i]), Attribute: ec2types.InstanceAttributeNameDisableApiTermination,
			})
			if alreadyGone(err) {
				mu.Lock()
				gone[ids[i]] = true
				mu.Unlock()
				return nil
			}
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
			for _, id := range protected {
				in, ok := known[id]
				if !ok {
					in = provider.Instance{ID: id}
				}
				in.Protected = true
				pe.Instances = append(pe.Instances, in)
			}
			return pe
		}
	}
	var pending []string
	for _, id := range ids {
		if !gone[id] {
			pending = append(pending, id)
		}
	}
	for start := 0; start < len(pending); start += maxInstanceIDs {
		chunk := pending[start:min(start+maxInstanceIDs, len(pending))]
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: chunk})
		if alreadyGone(err) {
			err = p.terminateRest(ctx, chunk)
		}
		if err != nil {
			return wrapErr("", err)
		}
	}
	p.logf("terminating %d instance(s)", len(ids))
	return nil
}

// terminateRest finishes a TerminateInstances whose answer said something
// is already gone (typically a retry of a call that had taken effect):
// one DescribeInstances finds which of the instances still run, and each
// of those is terminated on its own, "already gone" counting as done.
func (p *ec2Provider) terminateRest(ctx context.Context, ids []string) error {
	states, err := p.states(ctx, ids)
	if err != nil {
		return err
	}
	var rest []string
	for _, id := range ids {
		if s, ok := states[id]; ok && s != ec2types.InstanceStateNameShuttingDown && s != ec2types.InstanceStateNameTerminated {
			rest = append(rest, id)
		}
	}
	return forEach(ctx, len(rest), p.parallel(), func(ctx context.Context, i int) error {
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{rest[i]}})
		if alreadyGone(err) {
			return nil
		}
		return wrapErr("terminate "+rest[i], err)
	})
}

// states returns the state of each instance that EC2 still lists, in
// DescribeInstances filtered by id (which, unlike asking by InstanceIds,
// leaves out instances that are gone instead of failing).
func (p *ec2Provider) states(ctx context.Context, ids []string) (map[string]ec2types.InstanceStateName, error) {
	raw, err := p.describeByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]ec2types.InstanceStateName{}
	for _, i := range raw {
		if i.State != nil {
			out[aws.ToString(i.InstanceId)] = i.State.Name
		}
	}
	return out, nil
}

// describeByID describes instances by id without failing on missing ones.
func (p *ec2Provider) describeByID(ctx context.Context, ids []string) ([]ec2types.Instance, error) {
	var out []ec2types.Instance
	for start := 0; start < len(ids); start += maxFilterValues {
		chunk := ids[start:min(start+maxFilterValues, len(ids))]
		pages := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("instance-id", chunk...)}})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, wrapErr("look up instances", err)
			}
			for _, r := range page.Reservations {
				out = append(out, r.Instances...)
			}
		}
	}
	return out, nil
}

// refuseForeign is the second line of defence behind the engine, which
// never asks: it fails, before anything is done, when any id is an
// instance outside the cluster's network. It looks the instances up
// (one DescribeInstances; the provider keeps no earlier answer) and
// returns those EC2 still lists, by id.
func (p *ec2Provider) refuseForeign(ctx context.Context, ids []string) (map[string]provider.Instance, error) {
	raw, err := p.describeByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	vpcs, err := p.vpcsOf(ctx, raw)
	if err != nil {
		return nil, err
	}
	known := make(map[string]provider.Instance, len(raw))
	var foreign []string
	for _, i := range raw {
		known[aws.ToString(i.InstanceId)] = toInstance(p.clusterName(), i)
		if i.State != nil && i.State.Name == ec2types.InstanceStateNameTerminated {
			continue // gone: terminating it again does nothing
		}
		if v := aws.ToString(i.VpcId); !vpcs[v] {
			foreign = append(foreign, aws.ToString(i.InstanceId)+" ("+v+")")
		}
	}
	if len(foreign) == 0 {
		return known, nil
	}
	sort.Strings(foreign)
	return nil, fmt.Errorf("%w: refusing to terminate %s: outside the VPCs of the cluster's subnets, so another project's instance that carries the same cluster name; nothing was terminated",
		ErrForeign, strings.Join(foreign, ", "))
}
