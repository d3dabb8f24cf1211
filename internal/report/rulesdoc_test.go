package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/rules"
)

// rulesDoc renders docs/rules.md, the page SARIF helpUri links point at
// (one anchor per rule ID).
func rulesDoc() []byte {
	var b strings.Builder
	b.WriteString("# kensa rules\n\nGenerated from internal/rules/catalog.go by `go test ./internal/report -update`; do not edit.\n")
	for _, r := range rules.All() {
		fmt.Fprintf(&b, "\n## %s\n\n**%s** · %s · %s\n\n%s\n\n**Fix:** %s\n", r.ID, r.Title, r.Severity, r.Kind, r.Help, r.Fix)
	}
	return []byte(b.String())
}

func TestRulesDocCurrent(t *testing.T) {
	golden(t, "../../../../docs/rules.md", rulesDoc())
}
