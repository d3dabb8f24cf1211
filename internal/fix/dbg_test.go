package fix

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDbgNotes(t *testing.T) {
	dir := corpusDir()
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if strings.Contains(e.Name(), ".template.") { continue }
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		res, err := Fix(context.Background(), e.Name(), data, Options{Offline: true})
		if err != nil { t.Fatal(err) }
		for _, n := range res.Notes {
			if !strings.Contains(n, "KS-DF-003") { t.Logf("%s: %s", e.Name(), n) }
		}
	}
}
