package provider

import "context"

// Ensurer creates what launches share (AWS: IAM role and instance profile,
// log group), after every check and render has passed and before the first
// launch. Resolve creates nothing.
type Ensurer interface {
	Ensure(ctx context.Context) error
}
