package buildctx

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
)

func copyAll(line int) CopySource {
	return CopySource{Line: line, EndLine: line, Instruction: "COPY", Sources: []string{"."}}
}

func copyOf(line int, srcs ...string) CopySource {
	return CopySource{Line: line, EndLine: line, Instruction: "COPY", Sources: srcs}
}

type checkCase struct {
	name   string
	tree   map[string]string
	opts   Options // Dir and DockerfilePath are filled in
	fires  bool
	substr []string // must appear in the message of the rule's finding
	line   int      // expected Location.Line when > 0
}

func runRuleCases(t *testing.T, id string, cases []checkCase) {
	t.Helper()
	pos, neg := 0, 0
	for _, tc := range cases {
		if tc.fires {
			pos++
		} else {
			neg++
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := mkTree(t, tc.tree)
			opts := tc.opts
			opts.Dir = dir
			opts.DockerfilePath = filepath.Join(dir, "Dockerfile")
			fs, st, err := Check(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if st == nil {
				t.Fatal("nil stats")
			}
			var hits []finding.Finding
			for _, f := range fs {
				if f.ID == id {
					hits = append(hits, f)
				}
			}
			if !tc.fires {
				if len(hits) != 0 {
					t.Fatalf("%s fired: %s", id, hits[0].Message)
				}
				return
			}
			if len(hits) == 0 {
				t.Fatalf("%s did not fire; findings: %v", id, ids(fs))
			}
			f := hits[0]
			for _, s := range tc.substr {
				if !strings.Contains(f.Message, s) {
					t.Errorf("message %q lacks %q", f.Message, s)
				}
			}
			if tc.line > 0 && f.Location.Line != tc.line {
				t.Errorf("line = %d, want %d", f.Location.Line, tc.line)
			}
			if f.Fix == "" || f.Title == "" || f.Severity == finding.SeverityUnknown {
				t.Errorf("incomplete finding %+v", f)
			}
			if !strings.HasPrefix(f.Location.Path, dir) {
				t.Errorf("location %q not in the context", f.Location.Path)
			}
		})
	}
	if pos < 3 || neg < 3 {
		t.Errorf("%s: %d positive and %d negative cases, want >= 3 each", id, pos, neg)
	}
}

func ids(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestCX001NoDockerignore(t *testing.T) {
	runRuleCases(t, "KS-CX-001", []checkCase{
		{name: "empty context", tree: map[string]string{"Dockerfile": "FROM scratch"}, fires: true, substr: []string{"no .dockerignore"}},
		{name: "names git and node_modules", tree: map[string]string{"Dockerfile": "", ".git/HEAD": "", "node_modules/a/b": ""}, fires: true, substr: []string{".git", "node_modules", "3 files"}},
		{name: "ignore elsewhere does not count", tree: map[string]string{"Dockerfile": "", "sub/.dockerignore": "*"}, fires: true},
		{name: "dockerignore present", tree: map[string]string{"Dockerfile": "", ".dockerignore": ".git"}},
		{name: "empty dockerignore present", tree: map[string]string{"Dockerfile": "", ".dockerignore": ""}},
		{name: "per-Dockerfile ignore present", tree: map[string]string{"Dockerfile": "", "Dockerfile.dockerignore": ".git"}},
	})
}

func TestCX002SensitiveFileSent(t *testing.T) {
	many := map[string]string{"Dockerfile": "", ".dockerignore": "node_modules"}
	for i := 0; i < 15; i++ {
		many[fmt.Sprintf("certs/k%02d.pem", i)] = "x"
	}
	runRuleCases(t, "KS-CX-002", []checkCase{
		{name: "env file by COPY dot", tree: map[string]string{"Dockerfile": "", ".dockerignore": ".git", ".env": "A=1", "app.py": ""},
			opts: Options{Copies: []CopySource{copyAll(4)}}, fires: true, line: 4, substr: []string{".env", "environment file", "COPY . at line 4"}},
		{name: "ssh key in copied folder", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", "deploy/id_rsa": "k", "deploy/run.sh": ""},
			opts: Options{Copies: []CopySource{copyOf(7, "deploy/")}}, fires: true, line: 7, substr: []string{"deploy/id_rsa", "SSH private key"}},
		{name: "npmrc with token", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", ".npmrc": "//registry.npmjs.org/:_authToken=abc"},
			opts: Options{Copies: []CopySource{copyOf(3, ".npmrc")}}, fires: true, substr: []string{".npmrc", "_authToken"}},
		{name: "git folder grouped", tree: map[string]string{"Dockerfile": "", ".git/HEAD": "", ".git/config": "", ".git/objects/ab": ""},
			opts: Options{Copies: []CopySource{copyAll(2)}}, fires: true, substr: []string{".git/ (3 files)"}},
		{name: "many keys grouped", tree: many, opts: Options{Copies: []CopySource{copyOf(5, "certs")}}, fires: true,
			substr: []string{"15 sensitive files", "and 5 more", "certs/k00.pem"}},
		{name: "exception re-includes a key", tree: map[string]string{"Dockerfile": "", ".dockerignore": "*.key\n!tls.key", "tls.key": "k"},
			opts: Options{Copies: []CopySource{copyAll(2)}}, fires: true, substr: []string{"tls.key"}},
		{name: "wildcard copy of tfstate", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", "infra/prod.tfstate": "{}"},
			opts: Options{Copies: []CopySource{copyOf(9, "infra/*")}}, fires: true, substr: []string{"infra/prod.tfstate", "Terraform"}},

		{name: "env excluded", tree: map[string]string{"Dockerfile": "", ".dockerignore": ".env*", ".env": "A=1", ".env.prod": ""},
			opts: Options{Copies: []CopySource{copyAll(4)}}},
		{name: "npmrc without token", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", ".npmrc": "registry=https://r.example/"},
			opts: Options{Copies: []CopySource{copyAll(4)}}},
		{name: "copy from stage", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", ".env": "A=1"},
			opts: Options{Copies: []CopySource{{Line: 5, Instruction: "COPY", Sources: []string{"."}, FromStage: true}}}},
		{name: "secret outside copied folder", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", ".env": "A=1", "src/app.go": ""},
			opts: Options{Copies: []CopySource{copyOf(5, "src")}}},
		{name: "env example is not a secret", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", ".env.example": "A="},
			opts: Options{Copies: []CopySource{copyAll(4)}}},
		{name: "no copies", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", "id_ed25519": "k"}},
	})
}

func TestCX003CostlyIgnore(t *testing.T) {
	var pats []string
	for i := 0; i < 60; i++ {
		pats = append(pats, fmt.Sprintf("p%d", i))
	}
	manyPatterns := strings.Join(pats, "\n")
	bigExcluded := map[string]string{"Dockerfile": "", ".dockerignore": "node_modules\n!**/*.md"}
	for i := 0; i < 30; i++ {
		bigExcluded[fmt.Sprintf("node_modules/p%d/index.js", i)] = ""
	}
	prefixOnly := map[string]string{"Dockerfile": "", ".dockerignore": "node_modules\n!node_modules/keep"}
	for i := 0; i < 30; i++ {
		prefixOnly[fmt.Sprintf("node_modules/p%d/index.js", i)] = ""
	}
	runRuleCases(t, "KS-CX-003", []checkCase{
		{name: "many patterns", tree: map[string]string{"Dockerfile": "", ".dockerignore": manyPatterns}, fires: true, substr: []string{"60 patterns (> 50)", "files in"}},
		{name: "many exceptions", tree: map[string]string{"Dockerfile": "", ".dockerignore": "*\n!a\n!b\n!c\n!d\n!e\n!f"}, fires: true, substr: []string{"6 `!` exceptions (> 5)"}},
		{name: "wildcard exception walks excluded tree", tree: bigExcluded, opts: Options{MaxForcedWalk: 10}, fires: true, substr: []string{"30 files walked inside excluded folders"}},
		{name: "custom pattern limit", tree: map[string]string{"Dockerfile": "", ".dockerignore": "a\nb\nc"}, opts: Options{MaxPatterns: 2}, fires: true, substr: []string{"3 patterns (> 2)"}},

		{name: "few patterns", tree: map[string]string{"Dockerfile": "", ".dockerignore": ".git\nnode_modules\n*.log"}},
		{name: "exceptions within limit", tree: map[string]string{"Dockerfile": "", ".dockerignore": "*\n!src\n!go.mod"}},
		{name: "prefix exception prunes", tree: prefixOnly, opts: Options{MaxForcedWalk: 10}},
		{name: "disabled", tree: map[string]string{"Dockerfile": "", ".dockerignore": manyPatterns}, opts: Options{MaxPatterns: -1}},
		{name: "no ignore file", tree: map[string]string{"Dockerfile": ""}},
	})
}

func TestCX004LargeContext(t *testing.T) {
	big := map[string]string{"Dockerfile": "", ".dockerignore": ".git", "node_modules/a/x.js": strings.Repeat("x", 5000), "src/app.js": "y"}
	runRuleCases(t, "KS-CX-004", []checkCase{
		{name: "bytes over limit names node_modules", tree: big, opts: Options{MaxBytes: 1000}, fires: true,
			substr: []string{"(> 1000 B)", "biggest: node_modules/ 4.9 KiB (1 file)"}},
		{name: "files over limit", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", "a": "", "b": "", "c": ""},
			opts: Options{MaxFiles: 2}, fires: true, substr: []string{"5 files sent (> 2)"}},
		{name: "exception re-includes big file", tree: map[string]string{"Dockerfile": "", ".dockerignore": "dist\n!dist/app.bin", "dist/app.bin": strings.Repeat("z", 3000)},
			opts: Options{MaxBytes: 2048}, fires: true, substr: []string{"dist/"}},

		{name: "under default limits", tree: big},
		{name: "node_modules excluded", tree: map[string]string{"Dockerfile": "", ".dockerignore": "node_modules", "node_modules/a/x.js": strings.Repeat("x", 5000)},
			opts: Options{MaxBytes: 1000}},
		{name: "disabled", tree: big, opts: Options{MaxBytes: -1, MaxFiles: -1}},
	})
}

func TestCX005ExcludedSource(t *testing.T) {
	runRuleCases(t, "KS-CX-005", []checkCase{
		{name: "file excluded by pattern", tree: map[string]string{"Dockerfile": "", ".dockerignore": "# x\n*.json", "package.json": "{}"},
			opts: Options{Copies: []CopySource{copyOf(3, "package.json")}}, fires: true, line: 3,
			substr: []string{`"package.json"`, `pattern "*.json" at line 2`, "not found"}},
		{name: "folder excluded", tree: map[string]string{"Dockerfile": "", ".dockerignore": "config", "config/app.yaml": ""},
			opts: Options{Copies: []CopySource{copyOf(6, "config/")}}, fires: true, substr: []string{"excludes config"}},
		{name: "file under excluded folder", tree: map[string]string{"Dockerfile": "", ".dockerignore": "config", "config/app.yaml": ""},
			opts: Options{Copies: []CopySource{copyOf(6, "/config/app.yaml")}}, fires: true, substr: []string{`pattern "config"`}},
		{name: "wildcard whose matches are all excluded", tree: map[string]string{"Dockerfile": "", ".dockerignore": "*.lock", "yarn.lock": ""},
			opts: Options{Copies: []CopySource{copyOf(2, "*.lock")}}, fires: true, substr: []string{"copies nothing"}},
		{name: "source does not exist", tree: map[string]string{"Dockerfile": "", ".dockerignore": ""},
			opts: Options{Copies: []CopySource{{Line: 8, Instruction: "ADD", Sources: []string{"missing.tar"}}}}, fires: true,
			substr: []string{"ADD source", "does not exist"}},

		{name: "source present", tree: map[string]string{"Dockerfile": "", ".dockerignore": ".git", "app.py": ""},
			opts: Options{Copies: []CopySource{copyOf(3, "app.py")}}},
		{name: "re-included by exception", tree: map[string]string{"Dockerfile": "", ".dockerignore": "*.json\n!package.json", "package.json": ""},
			opts: Options{Copies: []CopySource{copyOf(3, "package.json")}}},
		{name: "from another stage", tree: map[string]string{"Dockerfile": "", ".dockerignore": "out"},
			opts: Options{Copies: []CopySource{{Line: 3, Instruction: "COPY", Sources: []string{"/out/app"}, FromStage: true}}}},
		{name: "url and variable and heredoc", tree: map[string]string{"Dockerfile": "", ".dockerignore": ""},
			opts: Options{Copies: []CopySource{{Line: 3, Instruction: "ADD", Sources: []string{"https://example.com/a.tgz", "git@github.com:a/b.git"}}, copyOf(4, "$APP_DIR"), copyOf(5, "<<EOF")}}},
		{name: "wildcard matching nothing anywhere", tree: map[string]string{"Dockerfile": "", ".dockerignore": ""},
			opts: Options{Copies: []CopySource{copyOf(3, "requirements*.txt")}}},
		{name: "empty directory source", tree: map[string]string{"Dockerfile": "", ".dockerignore": "", "data/": ""},
			opts: Options{Copies: []CopySource{copyOf(3, "data")}}},
	})
}

func TestResolveCopySemantics(t *testing.T) {
	dir := mkTree(t, map[string]string{
		".dockerignore": "src/secret\n", "go.mod": "", "go.sum": "", "src/main.go": "", "src/secret": "",
		"src/pkg/a.go": "", "cmd/x/main.go": "", "cmd/y/main.go": "", "cmd/y/other.go": "", "[x]": "",
	})
	c, _ := sentFiles(t, dir)
	tests := []struct {
		src     string
		want    []string
		matched bool
	}{
		{".", []string{".dockerignore", "[x]", "cmd/x/main.go", "cmd/y/main.go", "cmd/y/other.go", "go.mod", "go.sum", "src/main.go", "src/pkg/a.go"}, true},
		{"./", []string{".dockerignore", "[x]", "cmd/x/main.go", "cmd/y/main.go", "cmd/y/other.go", "go.mod", "go.sum", "src/main.go", "src/pkg/a.go"}, true},
		{"src", []string{"src/main.go", "src/pkg/a.go"}, true},
		{"src/.", []string{"src/main.go", "src/pkg/a.go"}, true},
		{"/src/", []string{"src/main.go", "src/pkg/a.go"}, true},
		{"../../src/main.go", []string{"src/main.go"}, true},
		{"go.*", []string{"go.mod", "go.sum"}, true},
		{"cmd/*/main.go", []string{"cmd/x/main.go", "cmd/y/main.go"}, true},
		{"cmd/*", []string{"cmd/x/main.go", "cmd/y/main.go", "cmd/y/other.go"}, true},
		{"*/*.go", []string{"src/main.go"}, true},
		{"\\[x\\]", nil, false}, // escapes only: a literal path, as in BuildKit
		{"[[]x]", []string{"[x]"}, true},
		{"[x]", nil, false}, // a character class matching "x"
		{"src/secret", nil, false},
		{"nope", nil, false},
		{"*.nothing", nil, false},
	}
	for _, tc := range tests {
		got, matched := c.Resolve(tc.src)
		if matched != tc.matched || !equalStrings(paths(got), tc.want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tc.src, paths(got), matched, tc.want, tc.matched)
		}
	}
}

func TestSensitive(t *testing.T) {
	yes := []string{".env", "app/.env.production", ".envrc", ".git/config", "x/.ssh/authorized_keys", "id_rsa", "keys/id_ed25519",
		"tls.pem", "server.key", "cert.p12", ".aws/credentials", ".pypirc", "credentials.json", ".kube/config", "prod.kubeconfig",
		".docker/config.json", "terraform.tfstate", "terraform.tfstate.backup", ".netrc", "client_secret_123.json"}
	no := []string{".env.example", "env.go", "id_rsa.pub", "src/key.go", ".aws/config", "config.json", "docker/config.json", "keyboard.txt", "README.md", ".gitignore", "pem/readme"}
	for _, p := range yes {
		if Sensitive(p) == "" {
			t.Errorf("Sensitive(%q) = \"\", want a reason", p)
		}
	}
	for _, p := range no {
		if r := Sensitive(p); r != "" {
			t.Errorf("Sensitive(%q) = %q, want \"\"", p, r)
		}
	}
}

func TestCheckErrors(t *testing.T) {
	dir := mkTree(t, map[string]string{".dockerignore": "ok\n[bad\n"})
	_, _, err := Check(context.Background(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "[bad") {
		t.Errorf("malformed ignore: err = %v", err)
	}
	_, _, err = Check(context.Background(), Options{Dir: filepath.Join(dir, "missing")})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing context: err = %v", err)
	}
}

func TestCheckStats(t *testing.T) {
	dir := mkTree(t, map[string]string{
		".dockerignore": "node_modules\nlogs\n!logs/keep.log", "a": "12345", "node_modules/x": "", "logs/keep.log": "1", "logs/drop.log": "",
	})
	_, st, err := Check(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Patterns: 3, Exceptions: 1, FilesWalked: 4, DirsWalked: 2, FilesSent: 3, BytesSent: int64(len("node_modules\nlogs\n!logs/keep.log") + 5 + 1), FilesExcluded: 1, DirsSkipped: 1, ForcedWalkFiles: 2}
	got := *st
	got.Elapsed = 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
	if st.Elapsed <= 0 {
		t.Error("Elapsed not measured")
	}
}

func TestCopyFollowsSymlinksInsideContext(t *testing.T) {
	tree := map[string]string{
		"Dockerfile": "", ".dockerignore": "private",
		"releases/v2/app.js": "", "releases/v2/.env": "S=1", "current": "->releases/v2",
		"abs": "->/releases/v2/app.js", "up": "->../../releases", "etc-link": "->/etc",
		"loop-a": "->loop-b", "loop-b": "->loop-a", "private/key": "", "to-private": "->private",
	}
	dir := mkTree(t, tree)
	c, _ := sentFiles(t, dir)
	resolve := []struct {
		src     string
		want    []string
		matched bool
	}{
		{"current", []string{"releases/v2/.env", "releases/v2/app.js"}, true},
		{"current/app.js", []string{"releases/v2/app.js"}, true},
		{"abs", []string{"releases/v2/app.js"}, true},
		{"up/v2/app.js", []string{"releases/v2/app.js"}, true}, // ".." cannot leave the context root
		{"etc-link/passwd", nil, false},
		{"loop-a", nil, false},
		{"to-private/key", nil, false},
	}
	for _, tc := range resolve {
		got, matched := c.Resolve(tc.src)
		if matched != tc.matched || !equalStrings(paths(got), tc.want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tc.src, paths(got), matched, tc.want, tc.matched)
		}
	}
	fs, _, err := Check(context.Background(), Options{Dir: dir, DockerfilePath: filepath.Join(dir, "Dockerfile"), Copies: []CopySource{
		copyOf(2, "current"), copyOf(3, "etc-link/passwd"), copyOf(4, "loop-a"), copyOf(5, "current/app.js"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, f := range fs {
		if f.Location.Line > 0 {
			got[f.Location.Line] += f.ID + ": " + f.Message + "\n"
		}
	}
	if !strings.Contains(got[2], "KS-CX-002") || !strings.Contains(got[2], "releases/v2/.env") {
		t.Errorf("line 2: %q, want KS-CX-002 naming releases/v2/.env", got[2])
	}
	for _, l := range []int{3, 4} {
		if !strings.Contains(got[l], "KS-CX-005") || !strings.Contains(got[l], "symlink") {
			t.Errorf("line %d: %q, want KS-CX-005 about a symlink", l, got[l])
		}
	}
	if got[5] != "" {
		t.Errorf("line 5: %q, want nothing", got[5])
	}
}
