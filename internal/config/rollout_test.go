package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// threeNodes is the nodes of a local cluster with three of them.
const threeNodes = "      - id: 1\n        ip: 127.0.0.11\n      - id: 2\n        ip: 127.0.0.12\n      - id: 3\n        ip: 127.0.0.13\n"

// rollout is localConfig with a `rollout:` section of the given lines
// (each indented under it) and three nodes.
func rollout(lines ...string) string {
	extra := "  rollout:\n"
	for _, l := range lines {
		extra += "    " + l + "\n"
	}
	return localConfig("ok", extra, threeNodes)
}

// cluster.rollout and cluster.health.command: every rule that is an error
// (docs/configuration.md, "Validation rules"), with its file:line and key.
func TestRolloutValidationErrors(t *testing.T) {
	cases := []struct {
		name, src, where, msg string
	}{
		{"deadline not a duration", rollout("healthy_deadline: 12 parsecs"), "cloud-compose.yml:5:23: cluster.rollout.healthy_deadline",
			`"12 parsecs" is not a duration; write it like 120s, 2m or 1m30s`},
		{"deadline a float", rollout("healthy_deadline: 1.5"), ":5:23: cluster.rollout.healthy_deadline", `"1.5" is not a duration`},
		{"deadline a boolean", rollout("healthy_deadline: yes"), ":5:23: cluster.rollout.healthy_deadline", `"yes" is not a duration`},
		{"deadline empty string", rollout("healthy_deadline: ''"), ":5:23: cluster.rollout.healthy_deadline", `"" is not a duration`},
		{"deadline a list", rollout("healthy_deadline: [120s]"), ":5:23: cluster.rollout.healthy_deadline", "must be a duration like 120s, 2m or 1m30s, not a list"},
		{"deadline zero", rollout("healthy_deadline: 0"), ":5:23: cluster.rollout.healthy_deadline", "0 is out of range: healthy_deadline is more than 0 and at most 24h"},
		{"deadline 0s", rollout("healthy_deadline: 0s"), ":5:23: cluster.rollout.healthy_deadline", "0s is out of range"},
		{"deadline negative", rollout("healthy_deadline: -5s"), ":5:23: cluster.rollout.healthy_deadline", "-5s is out of range"},
		{"deadline over a day", rollout("healthy_deadline: 25h"), ":5:23: cluster.rollout.healthy_deadline", "25h is out of range"},
		{"deadline seconds over a day", rollout("healthy_deadline: 86401"), ":5:23: cluster.rollout.healthy_deadline", "86401 is out of range"},
		{"deadline seconds overflow", rollout("healthy_deadline: 99999999999999999999"), ":5:23: cluster.rollout.healthy_deadline", "99999999999999999999 seconds is out of range"},
		{"deadline seconds overflow duration", rollout("healthy_deadline: 9223372036854775807"), ":5:23: cluster.rollout.healthy_deadline", "seconds is out of range"},
		{"min healthy time negative", rollout("min_healthy_time: -1s"), ":5:23: cluster.rollout.min_healthy_time", "-1s is out of range: min_healthy_time is 0 to 24h"},
		{"min healthy time not a duration", rollout("min_healthy_time: soon"), ":5:23: cluster.rollout.min_healthy_time", `"soon" is not a duration`},
		{"max unavailable zero", rollout("max_unavailable: 0"), ":5:22: cluster.rollout.max_unavailable", "0 is out of range: max_unavailable (the nodes replaced at once) is at least 1"},
		{"max unavailable a string", rollout("max_unavailable: all"), ":5:22: cluster.rollout.max_unavailable", "must be a whole number"},
		{"min healthy negative", rollout("min_healthy: -1"), ":5:18: cluster.rollout.min_healthy", "-1 is negative"},
		{"min healthy more than nodes", rollout("min_healthy: 4"), "cloud-compose.yml:5:18: cluster.rollout.min_healthy",
			"min_healthy 4 is more than the cluster's 3 nodes: a rollout could never start"},
		{"min healthy more than one node", localConfig("ok", "  rollout: {min_healthy: 2}\n", ""), ":4:26: cluster.rollout.min_healthy", "the cluster's 1 node: a rollout"},
		{"data not in the enum", rollout("data: everything"), ":5:11: cluster.rollout.data", `"everything" is not one of snapshot, keep, none`},
		{"data keep on aws", awsConfig("ok", "")[:len("cluster:\n")] + "  rollout:\n    data: keep\n" + awsConfig("ok", "")[len("cluster:\n"):],
			"cloud-compose.yml:3:11: cluster.rollout.data", "keep is for the local provider; on aws use snapshot or none"},
		{"auto rollback not a bool", rollout("auto_rollback: sometimes"), ":5:20: cluster.rollout.auto_rollback", "must be true or false"},
		{"order command a list", rollout("order_command: [a, b]"), ":5:20: cluster.rollout.order_command", "must be a string"},
		{"hook a mapping", rollout("hooks:", "  before_node: {run: x}"), ":6:20: cluster.rollout.hooks.before_node", "must be a string"},
		{"rollout a list", localConfig("ok", "  rollout: [1]\n", ""), ":4:12: cluster.rollout", "must be a mapping"},
		{"health neither port nor command", localConfig("ok", "  health:\n    path: /health\n", ""), "cloud-compose.yml:5:5: cluster.health",
			"missing required key `port`: health needs a port (an HTTP or TCP check) or a command"},
		{"health only a timeout", localConfig("ok", "  health: {timeout: 30}\n", ""), ":4:11: cluster.health", "health needs a port (an HTTP or TCP check) or a command"},
		{"health empty command", localConfig("ok", "  health:\n    command: ''\n", ""), ":5:5: cluster.health", "health needs a port"},
		{"health null port", localConfig("ok", "  health:\n    port:\n", ""), ":5:5: cluster.health", "health needs a port"},
		{"health command a list", localConfig("ok", "  health:\n    command: [a]\n", ""), ":5:14: cluster.health.command", "must be a string"},
		{"health command with a bad port", localConfig("ok", "  health:\n    command: ./check\n    port: 0\n", ""), ":6:11: cluster.health.port", "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v\n%s", err, tc.src)
			}
			got, found := err.Error(), false
			for _, line := range strings.Split(got, "\n") {
				found = found || (strings.Contains(line, tc.where+": ") && strings.Contains(line, tc.msg))
			}
			if !found {
				t.Errorf("error does not name %q with %q:\n%s\n---\n%s", tc.where, tc.msg, got, tc.src)
			}
		})
	}
}

// cluster.rollout's defaults and values, and health.command.
func TestRolloutDefaults(t *testing.T) {
	def := Rollout{MaxUnavailable: DefaultMaxUnavailable, HealthyDeadline: DefaultHealthyDeadline,
		MinHealthyTime: DefaultMinHealthyTime, AutoRollback: true}
	with := func(f func(r *Rollout)) Rollout {
		r := def
		f(&r)
		return r
	}
	awsWithRollout := func(lines string) string {
		src := awsConfig("ok", "")
		return src[:len("cluster:\n")] + lines + src[len("cluster:\n"):]
	}
	cases := []struct {
		name, src string
		want      Rollout
		warning   string
	}{
		{"no rollout", localConfig("ok", "", ""), def, ""},
		{"empty rollout", localConfig("ok", "  rollout:\n", ""), def, ""},
		{"deadline from health.timeout", localConfig("ok", "  health: {port: 80, timeout: 60}\n", ""),
			with(func(r *Rollout) { r.HealthyDeadline = time.Minute }), ""},
		{"deadline given wins over health.timeout", localConfig("ok", "  health: {port: 80, timeout: 60}\n  rollout: {healthy_deadline: 90}\n", ""),
			with(func(r *Rollout) { r.HealthyDeadline = 90 * time.Second }), ""},
		{"deadline integer seconds", rollout("healthy_deadline: 300"), with(func(r *Rollout) { r.HealthyDeadline = 5 * time.Minute }), ""},
		{"deadline quoted seconds", rollout("healthy_deadline: '45'"), with(func(r *Rollout) { r.HealthyDeadline = 45 * time.Second }), ""},
		{"deadline 1m30s", rollout("healthy_deadline: 1m30s"), with(func(r *Rollout) { r.HealthyDeadline = 90 * time.Second }), ""},
		{"deadline 2m", rollout("healthy_deadline: 2m"), with(func(r *Rollout) { r.HealthyDeadline = 2 * time.Minute }), ""},
		{"deadline at the bound", rollout("healthy_deadline: 24h"), with(func(r *Rollout) { r.HealthyDeadline = 24 * time.Hour }), ""},
		{"min healthy time zero", rollout("min_healthy_time: 0"), with(func(r *Rollout) { r.MinHealthyTime = 0 }), ""},
		{"min healthy time 0s", rollout("min_healthy_time: 0s"), with(func(r *Rollout) { r.MinHealthyTime = 0 }), ""},
		{"min healthy time 30s", rollout("min_healthy_time: 30s"), with(func(r *Rollout) { r.MinHealthyTime = 30 * time.Second }), ""},
		{"everything", rollout("max_unavailable: 2", "min_healthy: 3", "auto_rollback: no", "data: keep", "order_command: ./bin/order",
			"hooks: {before_node: ./bin/drain, after_node: ./bin/join}"),
			with(func(r *Rollout) {
				r.MaxUnavailable, r.MinHealthy, r.AutoRollback, r.Data = 2, 3, false, RolloutDataKeep
				r.OrderCommand, r.BeforeNode, r.AfterNode = "./bin/order", "./bin/drain", "./bin/join"
			}), ""},
		{"max unavailable above the node count", rollout("max_unavailable: 10"), with(func(r *Rollout) { r.MaxUnavailable = 10 }), ""},
		{"min healthy zero is a majority later", rollout("min_healthy: 0"), def, ""},
		{"data snapshot on aws", awsWithRollout("  rollout: {data: snapshot}\n"), with(func(r *Rollout) { r.Data = RolloutDataSnapshot }), ""},
		{"data none on aws", awsWithRollout("  rollout: {data: none}\n"), with(func(r *Rollout) { r.Data = RolloutDataNone }), ""},
		{"min healthy with an auto scaling group", "cluster:\n  name: ok\n  search_path: [t]\n  rollout: {min_healthy: 5}\n  aws:\n    asg:\n      subnets: [subnet-1]\n",
			with(func(r *Rollout) { r.MinHealthy = 5 }), ""},
		{"near miss", rollout("max_unavailble: 2"), def, "cloud-compose.yml:5:5: cluster.rollout.max_unavailble: unknown key; did you mean `max_unavailable`?"},
		{"near miss in hooks", rollout("hooks: {before_nod: x}"), def, "cluster.rollout.hooks.before_nod: unknown key; did you mean `before_node`?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.src)
			if err != nil {
				t.Fatalf("%v\n%s", err, tc.src)
			}
			if c.Rollout != tc.want {
				t.Errorf("Rollout = %+v, want %+v", c.Rollout, tc.want)
			}
			var ws []string
			for _, w := range c.Warnings {
				ws = append(ws, w.String())
			}
			all := strings.Join(ws, "\n")
			if tc.warning == "" && all != "" {
				t.Errorf("unexpected warnings:\n%s", all)
			}
			if tc.warning != "" && !strings.Contains(all, tc.warning) {
				t.Errorf("want a warning with %q, got:\n%s", tc.warning, all)
			}
		})
	}
}

// A health section with a command and no port is valid; with both, both
// are read.
func TestHealthCommand(t *testing.T) {
	cases := []struct {
		name, extra string
		want        Health
	}{
		{"command only", "  health:\n    command: ./bin/check\n", Health{Command: "./bin/check"}},
		{"command and timeout", "  health: {command: ./bin/check --fast, timeout: 30}\n", Health{Command: "./bin/check --fast", Timeout: 30}},
		{"port and command", "  health: {port: 8080, path: /health, command: ./bin/check}\n", Health{Port: 8080, Path: "/health", Command: "./bin/check"}},
		{"port only", "  health: {port: 8080}\n", Health{Port: 8080}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, localConfig("ok", tc.extra, ""))
			if err != nil {
				t.Fatal(err)
			}
			if c.Health == nil || *c.Health != tc.want {
				t.Errorf("Health = %+v, want %+v", c.Health, tc.want)
			}
			if len(c.Warnings) > 0 {
				t.Errorf("unexpected warnings: %v", c.Warnings)
			}
		})
	}
}
