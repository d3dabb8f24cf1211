package rules

import (
	"os"
	"regexp"
	"testing"
)

// TestCatalogMatchesRulesMD checks that every rule ID in the shared rule
// catalogue is present here (when ../shared is available) and that IDs are unique.
func TestCatalogMatchesRulesMD(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range catalog {
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Help == "" || r.Fix == "" {
			t.Errorf("%s lacks title, help or fix", r.ID)
		}
	}
	b, err := os.ReadFile("../../../shared/RULES.md")
	if err != nil {
		b, err = os.ReadFile("/work/shared/RULES.md")
	}
	if err != nil {
		t.Logf("shared RULES.md not available: %v", err)
		if len(catalog) < 48 {
			t.Fatalf("catalogue has %d rules, want at least 48", len(catalog))
		}
		return
	}
	ids := regexp.MustCompile(`\| (KS-(?:DF|CX|IM)-\d{3}) \|`).FindAllStringSubmatch(string(b), -1)
	if len(ids) == 0 {
		t.Fatal("no rule IDs found in RULES.md")
	}
	for _, m := range ids {
		if !seen[m[1]] {
			t.Errorf("RULES.md has %s, catalogue does not", m[1])
		}
	}
}
