package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// strictArgs makes every wrong command line exit 2 (ExitUsage), for every
// command under root, including cobra's own (help, completion):
//   - a group (a command that only holds subcommands, such as `cluster`)
//     given an unknown subcommand fails with cobra's "unknown command"
//     message and its "Did you mean this?" suggestions, instead of printing
//     its help and exiting 0; alone, it still prints its help;
//   - a wrong argument count (cobra.NoArgs, cobra.ExactArgs, …) is a
//     *UsageError, not a plain error.
func strictArgs(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c != root && c.HasSubCommands() && !c.Runnable():
			c.Args = unknownSubcommand
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			// its help shows `cluster [command]`, not `cluster [flags]`, as
			// before it was runnable
			c.SetUsageTemplate(strings.Replace(c.UsageTemplate(), "Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}", "Usage:", 1))
		case c.Args != nil:
			c.Args = usageArgs(c.Args)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// unknownSubcommand is the Args of a group: no argument at all, and the
// first one is reported as an unknown command, with suggestions.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	msg += fmt.Sprintf("\n\nRun '%s --help' for usage", cmd.CommandPath())
	return &UsageError{Err: errors.New(msg)}
}

// usageArgs makes the errors of an Args validator usage errors that name
// the command and show its usage line.
func usageArgs(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := validate(cmd, args)
		if err == nil {
			return nil
		}
		var ue *UsageError
		if errors.As(err, &ue) {
			return err
		}
		if !strings.Contains(err.Error(), cmd.CommandPath()) {
			err = fmt.Errorf("%s: %w", cmd.CommandPath(), err)
		}
		return &UsageError{Err: fmt.Errorf("%w\nUsage: %s", err, cmd.UseLine())}
	}
}
