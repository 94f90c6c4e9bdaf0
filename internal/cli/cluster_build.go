package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/render"
)

type clusterBuildFlags struct {
	node string
}

func newClusterBuildCommand(g *globals) *cobra.Command {
	f := &clusterBuildFlags{}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Print the boot script (cloud-init user data)",
		Long: `Renders cluster.sh from the template search path with the cluster's data and
prints it, as the original's "cluster build" did: no image lookup, no
snapshot lookup, and no _node_id unless --node is given. In ASG mode
(aws.asg) --node ID renders as up does, with _node_id = the cluster name,
and says so in a warning. -o json prints {"cluster": NAME, "node": ID or
null, "user_data": SCRIPT}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(g) },
	}
	cmd.Flags().StringVar(&f.node, "node", "", "render for this node id (sets _node_id)")
	return cmd
}

func (f *clusterBuildFlags) run(g *globals) error {
	p, err := g.loadCluster()
	if err != nil {
		return err
	}
	opts := render.Options{}
	switch {
	case f.node != "" && p.cluster.Provider == "aws" && p.cluster.AWS != nil && p.cluster.AWS.ASG != nil:
		// as up renders the group's launch template
		g.warnf("--node %s is ignored in ASG mode (aws.asg): every instance of the group runs the same boot script, rendered with _node_id = the cluster name %q, as `up` renders it", f.node, p.cluster.Name)
		opts.NodeID = p.cluster.Name
	case f.node != "":
		var ids []string
		for _, n := range p.cluster.Nodes() {
			ids = append(ids, n.ID)
			if n.ID == f.node {
				opts.NodeID = p.cluster.NodeIDValue(n)
			}
		}
		if opts.NodeID == nil {
			if len(ids) == 0 {
				return usageErrorf("--node %s: the cluster has no nodes", f.node)
			}
			return usageErrorf("--node %s: no such node; the nodes are %s", f.node, strings.Join(ids, ", "))
		}
	}
	out, err := p.render.Build(p.cluster, opts)
	if err != nil {
		return err
	}
	if g.json() {
		// user_data is the script as is, as the text output prints it
		g.wroteOut = true
		return writeJSON(g.streams.Out, buildJSON{Cluster: p.cluster.Name, Node: nodeOrNil(f.node), UserData: out}, false)
	}
	_, err = fmt.Fprintln(g.streams.Out, out)
	return err
}

// buildJSON is build's -o json document; node is null without --node.
type buildJSON struct {
	Cluster  string  `json:"cluster"`
	Node     *string `json:"node"`
	UserData string  `json:"user_data"`
}

func nodeOrNil(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
