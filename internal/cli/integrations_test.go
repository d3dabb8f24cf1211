package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var repoRoot, _ = filepath.Abs("../..")

type actionStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
	Run  string            `yaml:"run"`
	Shel string            `yaml:"shell"`
}

type action struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Inputs      map[string]struct {
		Description string `yaml:"description"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

var flagRe = regexp.MustCompile(`(?:^|\s|\()--([a-z][a-z0-9-]*)`)

// scanFlags checks that every --flag in text is a `kensa scan` flag.
func scanFlags(t *testing.T, where, text string) []string {
	t.Helper()
	fs := newScanCmd().Flags()
	var names []string
	for _, m := range flagRe.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
		if fs.Lookup(m[1]) == nil {
			t.Errorf("%s: --%s is not a kensa scan flag", where, m[1])
		}
	}
	if len(names) == 0 {
		t.Errorf("%s: no kensa flags found", where)
	}
	return names
}

func loadAction(t *testing.T) *action {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a
}

func (a *action) step(t *testing.T, name string) actionStep {
	t.Helper()
	for _, s := range a.Runs.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("action.yml has no step %q", name)
	return actionStep{}
}

// TestActionYAML: the GitHub Action is a valid composite action whose
// inputs are declared, whose scripts take inputs only through env (no
// ${{ }} expression inside a script: no injection), parse with bash -n,
// and call only real kensa scan flags; SARIF goes to upload-sarif.
func TestActionYAML(t *testing.T) {
	a := loadAction(t)
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" {
		t.Fatalf("name %q, description %q, runs.using %q", a.Name, a.Description, a.Runs.Using)
	}
	for _, in := range []string{"target", "severity", "exit-code", "format", "output", "version"} {
		if _, ok := a.Inputs[in]; !ok || a.Inputs[in].Description == "" {
			t.Errorf("input %q missing or undocumented", in)
		}
	}
	exprInput := regexp.MustCompile(`inputs\.([a-z][a-z0-9-]*)`)
	check := func(where, s string) {
		for _, m := range exprInput.FindAllStringSubmatch(s, -1) {
			if _, ok := a.Inputs[m[1]]; !ok {
				t.Errorf("%s: inputs.%s is not declared", where, m[1])
			}
		}
	}
	uploads := false
	for _, s := range a.Runs.Steps {
		check(s.Name+" if", s.If)
		for k, v := range s.Env {
			check(s.Name+" env "+k, v)
		}
		for k, v := range s.With {
			check(s.Name+" with "+k, v)
		}
		if s.Run != "" {
			if s.Shel != "bash" {
				t.Errorf("step %q: shell %q, want bash", s.Name, s.Shel)
			}
			if strings.Contains(s.Run, "${{") {
				t.Errorf("step %q: a ${{ }} expression inside the script (pass it through env)", s.Name)
			}
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(s.Run)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("step %q: bash -n: %v\n%s", s.Name, err, out)
			}
		}
		if strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@") {
			uploads = s.With["sarif_file"] == "${{ inputs.output }}"
		}
	}
	if !uploads {
		t.Error("no upload-sarif step uploading inputs.output")
	}
	for k, v := range a.Outputs {
		check("output "+k, v.Value)
	}
	flags := scanFlags(t, "action.yml Scan", a.step(t, "Scan").Run)
	for _, want := range []string{"format", "output", "severity", "exit-code", "dockerfile", "policy"} {
		if !strings.Contains(" "+strings.Join(flags, " ")+" ", " "+want+" ") {
			t.Errorf("Scan step does not pass --%s", want)
		}
	}
}

// runStep runs one of the action's bash scripts as the runner would.
func runStep(t *testing.T, s actionStep, env []string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", "-e", "-c", s.Run)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("%s: %v", s.Name, err)
	}
	return 0, string(out)
}

// TestActionRuns executes the action's Build, Scan and Gate scripts with
// the runner's environment variables: kensa is built from this checkout,
// scans, writes SARIF, reports its exit code and the gate fails the job
// exactly when findings remain. The built kensa then runs the pre-commit
// hook's entry.
func TestActionRuns(t *testing.T) {
	a := loadAction(t)
	tmp := t.TempDir()
	ghPath, ghOut := filepath.Join(tmp, "path"), filepath.Join(tmp, "output")
	base := []string{"GITHUB_ACTION_PATH=" + repoRoot, "RUNNER_TEMP=" + tmp, "GITHUB_PATH=" + ghPath, "GITHUB_OUTPUT=" + ghOut}
	if code, out := runStep(t, a.step(t, "Build kensa"), base); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, out)
	}
	p, _ := os.ReadFile(ghPath)
	bin := strings.TrimSpace(string(p))
	if _, err := os.Stat(filepath.Join(bin, "kensa")); err != nil {
		t.Fatalf("build step did not put kensa on GITHUB_PATH (%q): %v", bin, err)
	}
	env := append(base, "PATH="+bin+":"+os.Getenv("PATH"))

	clean := filepath.Join(tmp, "clean")
	os.Mkdir(clean, 0o755)
	os.WriteFile(filepath.Join(clean, "Dockerfile"), []byte("FROM debian:12\nUSER 1000\nCMD [\"true\"]\n"), 0o644)
	cases := []struct {
		name, target, severity string
		scanCode, gateCode     int
		output                 string
	}{
		{"findings", exampleWebapp, "CRITICAL,HIGH", 0, 1, "exit-code=1"},
		{"clean", clean, "CRITICAL,HIGH", 0, 0, "exit-code=0"},
		{"bad target", filepath.Join(tmp, "missing"), "HIGH", 2, -1, "exit-code=2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(ghOut)
			sarif := filepath.Join(tmp, c.name+".sarif")
			in := append(env, "INPUT_TARGET="+c.target, "INPUT_SEVERITY="+c.severity, "INPUT_EXIT_CODE=1",
				"INPUT_FORMAT=sarif", "INPUT_OUTPUT="+sarif, "INPUT_DOCKERFILE=", "INPUT_POLICY=")
			code, out := runStep(t, a.step(t, "Scan"), in)
			if code != c.scanCode {
				t.Fatalf("scan step exit %d, want %d\n%s", code, c.scanCode, out)
			}
			o, _ := os.ReadFile(ghOut)
			if strings.TrimSpace(string(o)) != c.output {
				t.Errorf("GITHUB_OUTPUT %q, want %q", o, c.output)
			}
			if c.gateCode < 0 {
				return
			}
			var log struct {
				Version string `json:"version"`
				Runs    []struct {
					Results []json.RawMessage `json:"results"`
				} `json:"runs"`
			}
			b, err := os.ReadFile(sarif)
			if err != nil || json.Unmarshal(b, &log) != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
				t.Fatalf("SARIF %s: %v %.200s", sarif, err, b)
			}
			if (len(log.Runs[0].Results) > 0) != (c.gateCode != 0) {
				t.Errorf("%d SARIF results with gate %d", len(log.Runs[0].Results), c.gateCode)
			}
			gate := a.step(t, "Gate")
			if code, out := runStep(t, gate, append(env, "SCAN_EXIT_CODE="+strings.TrimPrefix(c.output, "exit-code="))); code != c.gateCode {
				t.Errorf("gate exit %d, want %d\n%s", code, c.gateCode, out)
			}
		})
	}

	t.Run("pre-commit dockerfile hook", func(t *testing.T) {
		hooks := loadHooks(t)
		h := hooks["kensa-dockerfile"]
		// pre-commit runs entry + args + the staged file names.
		args := shellWords(t, h.Entry)
		run := func(files ...string) int {
			cmd := exec.Command(args[0], append(args[1:], files...)...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
			return 0
		}
		if code := run(filepath.Join(clean, "Dockerfile")); code != 0 {
			t.Errorf("clean Dockerfile: exit %d, want 0", code)
		}
		if code := run(filepath.Join(clean, "Dockerfile"), filepath.Join(exampleWebapp, "Dockerfile")); code != 1 {
			t.Errorf("clean + webapp Dockerfiles: exit %d, want 1", code)
		}
		if code := run(filepath.Join(tmp, "nope", "Dockerfile")); code != 2 {
			t.Errorf("missing file: exit %d, want 2", code)
		}
	})
}

type hook struct {
	ID            string   `yaml:"id"`
	Name          string   `yaml:"name"`
	Description   string   `yaml:"description"`
	Entry         string   `yaml:"entry"`
	Language      string   `yaml:"language"`
	Files         string   `yaml:"files"`
	Types         []string `yaml:"types"`
	PassFilenames *bool    `yaml:"pass_filenames"`
}

func loadHooks(t *testing.T) map[string]hook {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hs []hook
	if err := yaml.Unmarshal(b, &hs); err != nil {
		t.Fatalf(".pre-commit-hooks.yaml: %v", err)
	}
	out := map[string]hook{}
	for _, h := range hs {
		out[h.ID] = h
	}
	return out
}

// shellWords splits a hook entry as pre-commit does (shlex: words,
// single-quoted strings kept whole).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`'([^']*)'|(\S+)`).FindAllStringSubmatch(s, -1) {
		if m[2] != "" {
			out = append(out, m[2])
		} else {
			out = append(out, m[1])
		}
	}
	return out
}

// TestPreCommitHooks: both hooks have pre-commit's required keys, a
// supported language, file patterns that pick the right files, and
// entries that call only real kensa scan flags.
func TestPreCommitHooks(t *testing.T) {
	hooks := loadHooks(t)
	match := map[string]struct{ yes, no []string }{
		"kensa-fix": {
			yes: []string{"Dockerfile", "app/Dockerfile", "Dockerfile.prod", "build/Containerfile", "api.dockerfile"},
			no:  []string{"README.md", "Dockerfile/notes.txt", "docs/dockerfiles.md", "compose.yaml"},
		},
		"kensa-dockerfile": {
			yes: []string{"Dockerfile", "app/Dockerfile", "Dockerfile.prod", "build/Containerfile", "api.dockerfile"},
			no:  []string{"README.md", "Dockerfile/notes.txt", "docs/dockerfiles.md", "compose.yaml"},
		},
		"kensa-manifests": {
			yes: []string{"compose.yaml", "docker-compose.yml", "ops/docker-compose.prod.yaml", "k8s/deployment.yaml", "deploy/base/svc.yml"},
			no:  []string{".github/workflows/ci.yml", "kensa.yaml", "Dockerfile", "k8s/README.md"},
		},
	}
	if len(hooks) != len(match) {
		t.Errorf("hooks %v, want %d", hooks, len(match))
	}
	for id, m := range match {
		h, ok := hooks[id]
		if !ok {
			t.Errorf("no hook %s", id)
			continue
		}
		if h.Name == "" || h.Entry == "" || h.Description == "" {
			t.Errorf("%s: missing name, entry or description", id)
		}
		if h.Language != "golang" && h.Language != "system" {
			t.Errorf("%s: language %q", id, h.Language)
		}
		if h.PassFilenames == nil || !*h.PassFilenames {
			t.Errorf("%s: pass_filenames must be true (the entry loops over the files)", id)
		}
		re, err := regexp.Compile(h.Files)
		if err != nil {
			t.Errorf("%s: files: %v", id, err)
			continue
		}
		for _, f := range m.yes {
			if !re.MatchString(f) {
				t.Errorf("%s: files does not match %s", id, f)
			}
		}
		for _, f := range m.no {
			if re.MatchString(f) {
				t.Errorf("%s: files matches %s", id, f)
			}
		}
		words := shellWords(t, h.Entry)
		if id == "kensa-fix" {
			checkFixHook(t, words)
			continue
		}
		if len(words) != 4 || words[0] != "sh" || words[1] != "-c" || !strings.Contains(words[2], "kensa scan ") {
			t.Errorf("%s: entry %q, want sh -c 'loop over kensa scan' NAME", id, words)
			continue
		}
		scanFlags(t, id, words[2])
		cmd := exec.Command("sh", "-n", "-c", words[2])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", id, err, out)
		}
	}
}

// checkFixHook runs the kensa-fix hook's entry as pre-commit would, on a
// Dockerfile with a fixable ADD: the file is rewritten and the exit status
// is 0 (pre-commit itself fails the commit because a file changed).
func checkFixHook(t *testing.T, words []string) {
	t.Helper()
	if len(words) < 2 || words[0] != "kensa" || words[1] != "fix" || !slices.Contains(words, "--write") {
		t.Fatalf("kensa-fix: entry %q, want kensa fix --write ...", words)
	}
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(df, []byte("FROM scratch\nADD app.conf /etc/app.conf\nUSER 65532\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(append(words[1:], df), &out, &errb); code != 0 {
		t.Fatalf("kensa-fix entry: exit %d: %s%s", code, out.String(), errb.String())
	}
	b, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "COPY app.conf /etc/app.conf") {
		t.Errorf("kensa-fix did not rewrite the ADD:\n%s", b)
	}
}
