package finding

import (
	"encoding/json"
	"testing"
)

func TestSeverityRoundTrip(t *testing.T) {
	for _, s := range AllSeverities() {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != s {
			t.Errorf("round trip %v -> %s -> %v", s, b, back)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity accepted an unknown name")
	}
	if s, _ := ParseSeverity(" high "); s != SeverityHigh {
		t.Errorf("ParseSeverity(high) = %v", s)
	}
}

func TestFinalizeCountsAndSorts(t *testing.T) {
	r := NewReport("x", "dockerfile")
	r.Findings = []Finding{
		{ID: "B", Severity: SeverityLow, Location: Location{Path: "Dockerfile", Line: 9}},
		{ID: "A", Severity: SeverityHigh, Location: Location{Path: "Dockerfile", Line: 9}},
		{ID: "C", Severity: SeverityCritical, Location: Location{Path: "Dockerfile", Line: 2}},
	}
	r.Suppressed = []Finding{{ID: "D"}}
	r.Finalize()
	if got := r.Findings[0].ID + r.Findings[1].ID + r.Findings[2].ID; got != "CAB" {
		t.Errorf("order = %s, want CAB", got)
	}
	if r.Summary.Total != 3 || r.Summary.BySeverity["HIGH"] != 1 || r.Summary.BySeverity["MEDIUM"] != 0 || r.Summary.Suppressed != 1 {
		t.Errorf("summary = %+v", r.Summary)
	}
}
