package aws

import (
	"context"
	"sync"
)

// Ensure creates what launches share — the instance profile holding
// aws.instance_policy and the awslogs log group — after Resolve has checked
// everything and the engine has rendered every node, so that a failed
// check leaves nothing behind. It runs once per provider (one command run);
// every step is idempotent, so a later run that finds them only re-applies
// the policy and the retention. Launch and EnsureGroup call it themselves
// when the engine did not.
func (p *ec2Provider) Ensure(ctx context.Context) error {
	p.ensureMu.Lock()
	defer p.ensureMu.Unlock()
	if p.ensured {
		return p.ensureErr
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	if p.aws.InstancePolicy != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[0] = p.ensureInstanceProfile(ctx, p.aws.InstancePolicy)
		}()
	}
	if p.usesAWSLogs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[1] = p.ensureLogGroup(ctx)
		}()
	}
	wg.Wait()
	p.ensured, p.ensureErr = true, joinErrs(errs)
	return p.ensureErr
}
