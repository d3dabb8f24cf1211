package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/spf13/cobra"
)

func newRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "List every rule with its ID, severity, title and fix hint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSEVERITY\tTITLE\tFIX")
			for _, r := range allRules() {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Title, r.Fix)
			}
			return w.Flush()
		},
	}
}

// allRules lists catalogued rules plus rules contributed by scanners that
// define their own (secret detectors).
func allRules() []rules.Rule {
	out := rules.All()
	for _, extra := range extraRules {
		out = append(out, extra()...)
	}
	return out
}

// extraRules lets scanner wiring files add rule metadata (e.g. KS-SE-*).
var extraRules []func() []rules.Rule
