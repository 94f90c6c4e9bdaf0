package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloud-compose/cloud-compose-go/internal/cluster"
)

func newClusterStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each node's instance",
		Long: `One row per configured node: its instance, state, IP, image, type and launch
time. Instances of the cluster that match no configured node are listed as
orphan. In ASG mode (aws.asg) the auto scaling group comes first (desired,
min, max, launch template version) and its instances are listed as member,
with their zone and the group's health status of them. With a load
balancer (cluster.load_balancer), its address, state and targets follow.
-o json prints {"cluster": NAME, "nodes": [...]}, plus "group" in ASG mode
and "load_balancer" with one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.openEngine(cmd.Context(), engineOptions{})
			if err != nil {
				return err
			}
			st, err := e.Status(cmd.Context(), cluster.PlanOptions{CloudInit: true})
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(st)
			}
			if gr := st.Group; gr != nil {
				fmt.Fprintf(g.streams.Out, "auto scaling group %s: desired %d, min %d, max %d, launch template version %s\n", gr.Name, gr.Desired, gr.Min, gr.Max, dash(gr.LaunchTemplateVersion))
			}
			tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
			zoneHdr := ""
			if st.Group != nil {
				zoneHdr = "\tZONE"
			}
			fmt.Fprintln(tw, "NODE\tINSTANCE\tSTATE\tSPEC\tHEALTH\tGEN\tIP"+zoneHdr+"\tIMAGE\tTYPE\tLAUNCHED")
			for _, r := range st.Nodes {
				id := r.ID
				switch {
				case r.Foreign != "":
					id = "foreign (" + r.Foreign + ")"
				case r.DuplicateOf != "":
					id = r.ID + " (duplicate of " + r.DuplicateOf + ")"
				case r.Member:
					id = "member"
				case r.Orphan:
					id = "orphan"
					if r.ID != "" {
						id += " (" + r.ID + ")"
					}
				}
				state := r.State
				if r.ExitCode != nil {
					state = fmt.Sprintf("%s (exit %d)", state, *r.ExitCode)
				}
				launched := "-"
				if r.Launched != nil {
					launched = r.Launched.Local().Format(time.DateTime)
				}
				ip := dash(r.IP)
				if st.Group != nil {
					ip += "\t" + dash(r.Zone)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, dash(r.InstanceID), state, dash(r.Spec), dash(r.Health), dash(r.Generation), ip, dash(r.Image), dash(r.Type), launched)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			printLoadBalancer(g, st)
			return nil
		},
	}
}

// printLoadBalancer ends status with the load balancer and its targets.
func printLoadBalancer(g *globals, st *cluster.Status) {
	lb := st.LoadBalancer
	if lb == nil {
		return
	}
	fmt.Fprintf(g.streams.Out, "\nload balancer %s: %s, %d target(s)\n", dash(lb.Address), lb.State, len(lb.Targets))
	if len(lb.Targets) == 0 {
		return
	}
	tw := tabwriter.NewWriter(g.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tINSTANCE\tSTATE\tIN FLIGHT")
	for _, t := range lb.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", t.Address, dash(t.InstanceID), t.State, t.InFlight)
	}
	tw.Flush()
}
