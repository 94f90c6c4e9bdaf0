package main

import (
	"time"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

// The original mongo plugin's upgrade (cloud-compose-mongo,
// cloudcompose/mongo/controller.py and workflow.py) is a state machine
// driven by
//
//	while workflow.step():
//	    sleep(10)
//
// where one step of a node does one thing and returns:
//
//  1. initial: the cluster must be healthy; turn protection off and
//     terminate the instance → shutting-down;
//  2. shutting-down: if DescribeInstances says terminated, `cluster up`
//     (launches the missing node) → pending; else nothing;
//  3. pending/checking: if the instance at the IP runs and the cluster is
//     healthy → done, next node; else nothing.
//
// So every wait is rounded up to a multiple of 10 s, each at least one
// sleep, and one more sleep separates a node's end from the next node's
// terminate; the last step of the run returns false and does not sleep.
const mongoSleep = 10 * time.Second

// mongoWait is a wait as the plugin sees it: the sleeps until a poll finds
// it over, at least one.
func mongoWait(d time.Duration) time.Duration {
	k := (d + mongoSleep - 1) / mongoSleep
	return max(1, k) * mongoSleep
}

// mongoNode is the plugin's design cost for one node with the same waits
// this tool measured: terminate (call and wait), the launch (its `cluster
// up`, taken as this tool's Launch call although the original's `up`
// calls RunInstances for every node of the cluster), boot = running +
// healthy. The calls each poll makes and the cluster-health queries are
// counted as free, so the figure is a lower bound. The plugin takes no
// snapshot (its `up` restores the newest existing one), has no
// min_healthy_time (its trailing sleep stands in for one) and no health
// deadline.
func mongoNode(t *cluster.NodeTimings, last bool) time.Duration {
	d := mongoWait(t.Terminate) + t.Launch + mongoWait(t.Running+t.Healthy)
	if !last {
		d += mongoSleep
	}
	return d
}

// mongoRun is the plugin's design cost for a whole rollout with the
// waits of res, nodes in res's order.
func mongoRun(res *cluster.RolloutResult) time.Duration {
	var d time.Duration
	for i, nd := range res.Nodes {
		d += mongoNode(nd.Timings, i == len(res.Nodes)-1)
	}
	return d
}

// mongoOwn is the plugin's design time per node beyond the waits the
// outside figure of this tool excludes (terminate, running, healthy): the
// launch and what the sleeps add, for a node that is not the last.
func mongoOwn(t *cluster.NodeTimings) time.Duration {
	return mongoNode(t, false) - t.Terminate - t.Running - t.Healthy
}
