package aws

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// filterEscaper escapes what EC2 filter values treat as special: `*`
// (any characters), `?` (one character) and the backslash itself. "Use a
// backslash to escape special characters. For example, a filter value of
// \*amazon\?\\ specifies the literal string *amazon?\." (EC2 API
// reference, Filter).
var filterEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)

// filter is an EC2 filter whose values match literally: every value the
// provider sends (cluster names, image names, ids from the config) goes
// through here, so that a name like `web*` never matches another
// cluster's `webx`.
func filter(name string, values ...string) ec2types.Filter {
	esc := make([]string, len(values))
	for i, v := range values {
		esc[i] = filterEscaper.Replace(v)
	}
	return ec2types.Filter{Name: aws.String(name), Values: esc}
}
