package runtime

import (
	"os"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
)

// TestPracticeNotesCloudRun is the frontend → backend pair of the practice
// notes: the backend's ingress is internal-and-cloud-load-balancing, so
// the frontend's call only works with all-traffic VPC egress through a
// connector or Direct VPC network interfaces.
func TestPracticeNotesCloudRun(t *testing.T) {
	cases := []struct {
		frontend string
		fails    bool
	}{
		{"testdata/cloudrun/frontend.yaml", true},
		{"testdata/cloudrun/frontend-private-ranges.yaml", true},
		{"testdata/cloudrun/frontend-direct-vpc.yaml", false},
		{"testdata/cloudrun/frontend-connector.yaml", false},
	}
	for _, c := range cases {
		t.Run(c.frontend, func(t *testing.T) {
			fs := scanFiles(t, c.frontend, "testdata/cloudrun/backend.yaml")
			var calls []finding.Finding
			for _, f := range fs {
				switch f.ID {
				case "KS-RT-021":
					calls = append(calls, f)
				case "KS-RT-020", "KS-RT-022", "KS-RT-023", "KS-RT-024":
					t.Errorf("unexpected %s: %s", f.ID, f.Message)
				}
			}
			if !c.fails {
				if len(calls) != 0 {
					t.Fatalf("reported a working call: %+v", calls)
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("want one failing call, got %+v", calls)
			}
			f := calls[0]
			if want := lineOf(t, c.frontend, "value: https://backend"); f.Location.Path != c.frontend || f.Location.Line != want {
				t.Errorf("location %+v, want %s:%d (the BACKEND_URL value)", f.Location, c.frontend, want)
			}
			for _, want := range []string{"frontend calls backend", "BACKEND_URL=https://backend-7n3kq2xv4a-ew.a.run.app", "internal-and-cloud-load-balancing", "backend.yaml:8", "404 Not Found"} {
				if !strings.Contains(f.Message, want) {
					t.Errorf("message %q lacks %q", f.Message, want)
				}
			}
			for _, want := range []string{"run.googleapis.com/vpc-access-egress: all-traffic", "run.googleapis.com/network-interfaces"} {
				if !strings.Contains(f.Fix, want) {
					t.Errorf("fix %q lacks %q", f.Fix, want)
				}
			}
			if len(f.Related) != 1 || f.Related[0].Line != 8 {
				t.Errorf("related %+v, want the backend's ingress line", f.Related)
			}
		})
	}
}

// TestIngressAllOnCalledService: the same backend with ingress all is
// reported with the internal-and-cloud-load-balancing fix.
func TestIngressAllOnCalledService(t *testing.T) {
	fs := scanFiles(t, "testdata/cases/KS-RT-020/pos-all.yaml")
	for _, f := range fs {
		if f.ID == "KS-RT-020" {
			if !strings.Contains(f.Fix, "run.googleapis.com/ingress: internal-and-cloud-load-balancing") || !strings.Contains(f.Message, "called by frontend") {
				t.Errorf("finding %+v", f)
			}
			return
		}
	}
	t.Fatal("no KS-RT-020")
}

// lineOf returns the 1-based line of the first line of path containing s.
func lineOf(t *testing.T, path, s string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line with %q", path, s)
	return 0
}
