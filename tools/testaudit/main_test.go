package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: tool missing\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p","Elapsed":0.5}
`

func TestAuditSkips(t *testing.T) {
	var out bytes.Buffer
	if code := audit(strings.NewReader(stream), &out, nil); code != 1 {
		t.Errorf("unallowed skip: exit %d, want 1\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "p TestB — b_test.go:9: tool missing [NOT ALLOWED]") {
		t.Errorf("output lacks the skip reason:\n%s", out.String())
	}
	out.Reset()
	allow := []allowRule{{re: regexp.MustCompile(`^p TestB$`), reason: "why"}}
	if code := audit(strings.NewReader(stream), &out, allow); code != 0 {
		t.Errorf("allowed skip: exit %d, want 0\n%s", code, out.String())
	}
}

func TestAuditFailure(t *testing.T) {
	s := `{"Action":"output","Package":"p","Test":"TestC","Output":"boom\n"}
{"Action":"fail","Package":"p","Test":"TestC"}
{"Action":"fail","Package":"p","Elapsed":1}
`
	var out bytes.Buffer
	if code := audit(strings.NewReader(s), &out, nil); code != 1 || !strings.Contains(out.String(), "boom") {
		t.Errorf("exit %d, output:\n%s", code, out.String())
	}
}

func TestLoadAllow(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/allow"
	if err := os.WriteFile(p, []byte("# comment\nbuildctx TestA$\treason one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules, err := loadAllow(p)
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules %v, err %v", rules, err)
	}
	if !rules[0].re.MatchString("x/internal/buildctx TestA") || rules[0].re.MatchString("x/internal/buildctx TestB") {
		t.Errorf("pattern %q matches the wrong tests", rules[0].re)
	}
	for _, bad := range []string{"buildctx TestA reason with spaces only\n", "TestA\t\n", "(\treason\n"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := loadAllow(p); err == nil {
			t.Errorf("loadAllow accepted %q", bad)
		}
	}
}
