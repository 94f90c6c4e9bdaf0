// Package aws is the `aws` provider: a cluster's static nodes as EC2
// instances (or one auto scaling group), their images, volumes, instance
// profile and log group, through aws-sdk-go-v2. It knows typed config and
// the provider contract, never YAML, and never prints advice for the user
// beyond the hint carried by its errors.
package aws
