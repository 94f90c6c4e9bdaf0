package aws

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// Error is a failed AWS call: the operation, AWS's error code and
// message, and a hint for the common mistakes. It never holds credentials.
type Error struct {
	Op      string // e.g. "ec2 RunInstances" or what was being done
	Code    string // AWS's error code, "" when the call never got an answer
	Message string
	Hint    string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoImage is wrapped when an image name matches no image.
var ErrNoImage = errors.New("no image found")

// ErrGroupHasInstances is wrapped when cleanup finds the group still has
// instances.
var ErrGroupHasInstances = errors.New("the auto scaling group still has instances")

func asAPIError(err error, target *smithy.APIError) bool { return errors.As(err, target) }

// errorCode returns the AWS error code in err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wrapErr turns an SDK error into an *Error. what says what was being done
// when the SDK's operation name is not enough ("" to use the operation).
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: what, Err: err}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		op := strings.ToLower(strings.ReplaceAll(oe.ServiceID, " ", "")) + " " + oe.OperationName
		switch {
		case e.Op == "":
			e.Op = op
		case !strings.Contains(e.Op, oe.OperationName):
			e.Op += " (" + op + ")"
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code, e.Message = ae.ErrorCode(), ae.ErrorMessage()
	} else {
		e.Message = rootMessage(err)
	}
	e.Hint = hint(e.Code, e.Message, err)
	return e
}

// rootMessage is the innermost useful message of a transport error.
func rootMessage(err error) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// hint gives advice for the errors users meet most.
func hint(code, msg string, err error) string {
	lc := strings.ToLower(msg)
	switch {
	case strings.Contains(lc, "failed to retrieve credentials") || strings.Contains(lc, "get credentials") ||
		strings.Contains(lc, "no ec2 imds role found") || strings.Contains(lc, "failed to refresh cached credentials"):
		return "no AWS credentials found: set AWS_PROFILE (run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case strings.Contains(lc, "could not resolve endpoint") || strings.Contains(lc, "invalid region"):
		return "set AWS_REGION (or the profile's region) to a valid region"
	case code == "AuthFailure" || code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" ||
		code == "UnrecognizedClientException" || code == "ExpiredToken" || code == "ExpiredTokenException" || code == "RequestExpired":
		return "the AWS credentials are invalid or expired: check AWS_PROFILE / AWS_ACCESS_KEY_ID, or run `aws sso login`"
	case code == "UnauthorizedOperation" || code == "AccessDenied" || code == "AccessDeniedException" || code == "UnauthorizedAccess":
		return "the AWS identity lacks an IAM permission for this call; `aws sts decode-authorization-message` decodes an encoded message"
	case strings.HasPrefix(code, "InvalidSubnetID"):
		return "check aws.nodes[].subnet (or aws.asg.subnets): the subnet must exist in this region"
	case strings.HasPrefix(code, "InvalidAMIID"):
		return "check aws.ami: the image must exist in this region and be shared with this account"
	case code == "InsufficientInstanceCapacity":
		return "EC2 has no capacity for this instance type in the subnet's zone right now: retry later, or use another type or zone"
	case code == "Unsupported" && strings.Contains(lc, "instance type"),
		code == "InvalidParameterValue" && strings.Contains(lc, "instance type") && strings.Contains(lc, "availability zone"):
		return "this instance type is not offered in the subnet's availability zone: `aws ec2 describe-instance-type-offerings --location-type availability-zone` lists where it is"
	case strings.HasPrefix(code, "InvalidGroup"):
		return "check aws.security_groups: use security group ids (sg-…) of the subnet's VPC"
	case strings.HasPrefix(code, "InvalidKeyPair"):
		return "check aws.keypair: the key pair must exist in this region"
	case code == "InvalidIPAddress.InUse":
		return "another instance or network interface holds this private IP"
	case code == "RequestLimitExceeded" || code == "Throttling" || code == "ThrottlingException":
		return "AWS throttled the calls even after retries: run again with a smaller --parallel"
	case code == "VcpuLimitExceeded" || code == "InstanceLimitExceeded":
		return "the account's EC2 quota is reached: request an increase in Service Quotas"
	}
	return ""
}

// joinErrs joins the non-nil errors.
func joinErrs(errs []error) error {
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// nodeErr says which node an error belongs to.
func nodeErr(node string, err error) error { return fmt.Errorf("node %s: %w", node, err) }

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
