package aws

import (
	"context"
	"encoding/base64"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cloud-compose/cloud-compose-go/internal/provider"
)

var _ provider.LogReader = (*ec2Provider)(nil)

// consolePoll is how often `logs --follow` asks EC2 for new console
// output; EC2 refreshes it every few minutes at best, so faster polling
// only costs calls.
const consolePoll = 15 * time.Second

// Logs writes an instance's boot log as EC2 keeps it: its console output
// (the boot script's output goes there through cloud-init), the last tail
// lines of it (0: all). With follow it polls until ctx ends and writes
// what is new.
func (p *ec2Provider) Logs(ctx context.Context, instanceID string, w io.Writer, follow bool, tail int) error {
	printed := ""
	for {
		out, err := p.ec2.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(instanceID)})
		if err != nil {
			if ctx.Err() != nil && follow {
				return nil
			}
			return wrapErr("read the console output of "+instanceID, err)
		}
		raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
		if err != nil {
			raw = []byte(aws.ToString(out.Output))
		}
		text := string(raw)
		var chunk string
		switch {
		case printed == "":
			chunk = lastLines(text, tail)
		case strings.HasPrefix(text, printed):
			chunk = text[len(printed):]
		case text != printed:
			// EC2 keeps the last 64 KB: the window moved
			chunk = text
		}
		if chunk != "" {
			if _, err := io.WriteString(w, chunk); err != nil {
				return err
			}
		}
		printed = text
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(consolePoll):
		}
	}
}

// lastLines returns the last n lines of s (all when n <= 0).
func lastLines(s string, n int) string {
	if n <= 0 {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
