package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// cluster.load_balancer: each rule with its file:line and key, and the
// defaults.
func TestLoadBalancerConfig(t *testing.T) {
	awsWith := func(top string) string {
		src := awsConfig("ok", "")
		return src[:len("cluster:\n")] + top + src[len("cluster:\n"):]
	}
	errCases := []struct{ name, src, where, msg string }{
		{"local without listen", localConfig("ok", "  health: {port: 8080}\n  load_balancer: {drain: 5s}\n", ""), ":5:18: cluster.load_balancer", "needs `listen:` on the local provider"},
		{"listen not an address", localConfig("ok", "  health: {port: 8080}\n  load_balancer: {listen: localhost}\n", ""), ":5:27: cluster.load_balancer.listen", `"localhost" is not an IPv4 address and port (like 127.0.0.10:8080)`},
		{"listen without a port", localConfig("ok", "  health: {port: 8080}\n  load_balancer: {listen: 127.0.0.10}\n", ""), ":5:27: cluster.load_balancer.listen", "is not an IPv4 address and port"},
		{"no target port", localConfig("ok", "  load_balancer: {listen: '127.0.0.10:8080'}\n", ""), ":4:18: cluster.load_balancer", "needs `target_port:`"},
		{"target port out of range", localConfig("ok", "  load_balancer: {listen: '127.0.0.10:8080', target_port: 70000}\n", ""), "cluster.load_balancer.target_port", "out of range"},
		{"drain negative", localConfig("ok", "  health: {port: 8080}\n  load_balancer: {listen: '127.0.0.10:8080', drain: -1s}\n", ""), "cluster.load_balancer.drain", "-1s is out of range"},
		{"target groups on local", localConfig("ok", "  health: {port: 8080}\n  load_balancer: {listen: '127.0.0.10:8080', target_groups: [arn:x]}\n", ""), "cluster.load_balancer.target_groups", "for the aws provider"},
		{"aws without target groups", awsWith("  health: {port: 8080}\n  load_balancer: {drain: 5s}\n"), ":3:18: cluster.load_balancer", "needs `target_groups:` on aws"},
		{"aws with listen", awsWith("  health: {port: 8080}\n  load_balancer: {listen: '127.0.0.10:8080', target_groups: [arn:x]}\n"), "cluster.load_balancer.listen", "on aws the load balancer is yours"},
		{"unknown key", localConfig("ok", "  health: {port: 8080}\n  load_balancer: {listen: '127.0.0.10:8080', drian: 5s}\n", ""), "cluster.load_balancer", "drian"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.src)
			text := ""
			var ce *Error
			if errors.As(err, &ce) {
				text = err.Error()
			} else if c != nil {
				for _, w := range c.Warnings {
					text += w.String() + "\n"
				}
			}
			found := false
			for _, line := range strings.Split(text, "\n") {
				found = found || (strings.Contains(line, tc.where) && strings.Contains(line, tc.msg))
			}
			if !found {
				t.Errorf("no %q with %q in:\n%s\n---\n%s", tc.where, tc.msg, text, tc.src)
			}
		})
	}
	c, err := load(t, localConfig("ok", "  health: {port: 8080, path: /health}\n  load_balancer: {listen: '127.0.0.10:8080'}\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	if lb := c.LoadBalancer; lb == nil || lb.Listen != "127.0.0.10:8080" || lb.TargetPort != 8080 || lb.Drain != DefaultDrain {
		t.Errorf("defaults: %+v", c.LoadBalancer)
	}
	c, err = load(t, awsWith("  load_balancer: {target_groups: [arn:a, arn:b], target_port: 80, drain: 30}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if lb := c.LoadBalancer; lb == nil || !slices.Equal(lb.TargetGroups, []string{"arn:a", "arn:b"}) || lb.TargetPort != 80 || lb.Drain != 30*time.Second {
		t.Errorf("aws: %+v", c.LoadBalancer)
	}
}
