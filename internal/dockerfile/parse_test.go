package dockerfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return f
}

func TestStagesAndArgs(t *testing.T) {
	src := `# syntax=docker/dockerfile:1.7
ARG GO_VERSION=1.22
ARG REG=ghcr.io/acme
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
ARG GO_VERSION
ARG EXTRA=x
RUN go build -o /out/app .

FROM build AS test
RUN go test ./...

FROM $REG/runtime:2@sha256:abcd AS final
COPY --from=build /out/app /app
COPY --from=0 /etc/passwd /etc/passwd
`
	f := mustParse(t, src)
	if f.Syntax != "docker/dockerfile:1.7" {
		t.Errorf("syntax = %q", f.Syntax)
	}
	if len(f.GlobalArgs) != 2 || len(f.Stages) != 3 {
		t.Fatalf("global args %d, stages %d", len(f.GlobalArgs), len(f.Stages))
	}
	b := f.Stages[0]
	if b.Name != "build" || b.Base.Repository != "library/golang" || b.Base.Tag != "1.22-alpine" || b.Platform != "$BUILDPLATFORM" {
		t.Errorf("stage 0 = %+v base %+v", b, b.Base)
	}
	if b.Args["GO_VERSION"] != "1.22" || b.Args["EXTRA"] != "x" {
		t.Errorf("stage args = %v", b.Args)
	}
	if f.Stages[1].BaseStage != b || f.Stages[1].Root() != b {
		t.Errorf("stage test should build on stage build")
	}
	fin := f.FinalStage()
	if fin.Name != "final" || fin.Base.Registry != "ghcr.io" || fin.Base.Repository != "acme/runtime" || fin.Base.Tag != "2" || fin.Base.Digest != "sha256:abcd" || !fin.Base.RegistryExplicit {
		t.Errorf("final base = %+v", fin.Base)
	}
	if len(fin.CopiesFrom) != 1 || fin.CopiesFrom[0] != b {
		t.Errorf("final CopiesFrom = %v", fin.CopiesFrom)
	}
	if f.StageByName("BUILD") != b || f.StageByName("2") != fin || f.StageByName("nope") != nil {
		t.Errorf("StageByName")
	}
	cp := fin.Instructions[0]
	if v, ok := cp.Flag("from"); !ok || v != "build" || cp.Dest() != "/app" || len(cp.Sources()) != 1 {
		t.Errorf("copy flags/sources: %+v", cp)
	}
}

func TestShellCommands(t *testing.T) {
	src := "FROM debian:12\n" +
		"RUN set -eux; \\\n" +
		"    # a comment inside the continuation\n" +
		"    apt-get update && \\\n" +
		"    if [ -n \"$X\" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y 'curl' \"git\"; fi; \\\n" +
		"    curl -fsSL https://x.example/i.sh | sudo bash -s -- -y || true; \\\n" +
		"    (cd /src && make); sh -c 'apk add jq'\n"
	f := mustParse(t, src)
	run := f.Stages[0].Instructions[0]
	if run.StartLine != 2 || run.EndLine != 7 {
		t.Errorf("lines %d-%d", run.StartLine, run.EndLine)
	}
	var got []string
	for _, c := range run.Script.Commands {
		got = append(got, strings.Join(c.Args, " "))
	}
	want := []string{"set -eux", "apt-get update", "[ -n ${X} ]", "apt-get install -y curl git", "curl -fsSL https://x.example/i.sh", "sudo bash -s -- -y", "true", "cd /src", "make", "sh -c apk add jq", "apk add jq"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commands:\n got %q\nwant %q", got, want)
	}
	cmds := run.Script.Commands
	if cmds[4].Pipeline != cmds[5].Pipeline || cmds[5].PipeIndex != 1 {
		t.Errorf("curl | bash not one pipeline: %+v %+v", cmds[4], cmds[5])
	}
	if n, args := cmds[5].Program(); n != "bash" || args[0] != "-s" {
		t.Errorf("Program() of sudo bash = %s %v", n, args)
	}
	if len(cmds[3].Assigns) != 1 || cmds[3].Assigns[0] != "DEBIAN_FRONTEND=noninteractive" {
		t.Errorf("assigns = %v", cmds[3].Assigns)
	}
	if !cmds[7].InSubshell || cmds[10].Parent != 9 {
		t.Errorf("subshell/nesting: %+v %+v", cmds[7], cmds[10])
	}
}

func TestHeredocMountOnbuildEscape(t *testing.T) {
	src := "# escape=`\nFROM alpine:3.20\n" +
		"RUN --mount=type=cache,target=/var/cache/apk --mount=type=secret,id=npm <<EOF\n" +
		"apk add curl\n" +
		"echo done\n" +
		"EOF\n" +
		"RUN echo a `\n  && echo b\n" +
		"ONBUILD RUN apk add git\n" +
		"COPY <<EOT /etc/motd\nhello\nEOT\n" +
		"RUN python3 <<PY\nprint(1)\nPY\n" +
		"RUN <<EOF\n#!/usr/bin/env python3\nimport os\nEOF\n"
	f := mustParse(t, src)
	if f.EscapeToken != '`' {
		t.Errorf("escape = %q", f.EscapeToken)
	}
	ins := f.Stages[0].Instructions
	h := ins[0]
	if h.StartLine != 3 || h.EndLine != 6 || len(h.Heredocs) != 1 {
		t.Errorf("heredoc RUN lines %d-%d heredocs %d", h.StartLine, h.EndLine, len(h.Heredocs))
	}
	if ms := h.Mounts(); len(ms) != 2 || ms[0]["type"] != "cache" || ms[0]["target"] != "/var/cache/apk" || ms[1]["id"] != "npm" {
		t.Errorf("mounts = %v", ms)
	}
	if len(h.Script.Commands) != 2 || h.Script.Commands[0].Name() != "apk" {
		t.Errorf("heredoc script commands = %+v", h.Script.Commands)
	}
	if c := ins[1].Script.Commands; len(c) != 2 || c[1].Args[1] != "b" {
		t.Errorf("backtick continuation: %+v", c)
	}
	if ob := ins[2]; ob.Cmd != "onbuild" || ob.OnBuild == nil || ob.OnBuild.Cmd != "run" || ob.OnBuild.Script == nil || ob.OnBuild.Script.Commands[0].Name() != "apk" {
		t.Errorf("onbuild = %+v", ob)
	}
	if cp := ins[3]; cp.Dest() != "/etc/motd" || len(cp.Sources()) != 0 {
		t.Errorf("COPY heredoc sources = %v", cp.Sources())
	}
	if c := ins[4].Script.Commands; len(c) != 1 || c[0].Name() != "python3" {
		t.Errorf("python heredoc: %+v", c)
	}
	if !ins[5].Script.NotShell {
		t.Errorf("python shebang heredoc must not be parsed as shell")
	}
}

func TestPowershellNotParsedAsShell(t *testing.T) {
	f := mustParse(t, "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\"]\nRUN $ErrorActionPreference = 'Stop'; Invoke-WebRequest -Uri x\n")
	if sc := f.Stages[0].Instructions[1].Script; !sc.NotShell || len(sc.Commands) != 0 {
		t.Fatalf("powershell RUN parsed as sh: %+v", sc)
	}
}

func TestExecFormAndFallback(t *testing.T) {
	f := mustParse(t, "FROM debian:12\nRUN [\"sh\", \"-c\", \"apt-get update && apt-get install -y curl\"]\nRUN echo $(( 1 +\n")
	c := f.Stages[0].Instructions[0].Script.Commands
	if len(c) != 3 || c[2].Args[0] != "apt-get" || c[2].Parent != 0 {
		t.Errorf("exec form sh -c: %+v", c)
	}
	if sc := f.Stages[0].Instructions[1].Script; !sc.Fallback || len(sc.Commands) == 0 {
		t.Errorf("unparsable shell should fall back: %+v", sc)
	}
}

func TestImageRef(t *testing.T) {
	for _, tc := range []struct{ in, reg, repo, tag, dig string }{
		{"debian", "docker.io", "library/debian", "", ""},
		{"debian:12-slim", "docker.io", "library/debian", "12-slim", ""},
		{"localhost:5000/app", "localhost:5000", "app", "", ""},
		{"ghcr.io/a/b:1@sha256:ff", "ghcr.io", "a/b", "1", "sha256:ff"},
		{"acme/app:2", "docker.io", "acme/app", "2", ""},
	} {
		r := ParseImageRef(tc.in)
		if r.Registry != tc.reg || r.Repository != tc.repo || r.Tag != tc.tag || r.Digest != tc.dig {
			t.Errorf("%s: %+v", tc.in, r)
		}
	}
}

func TestInlineIgnores(t *testing.T) {
	f := mustParse(t, "FROM debian:12\n# kensa ignore=KS-DF-006, ks-df-020\n# another comment\nRUN apt-get install -y curl\n\n# kensa ignore=KS-DF-014\n\nRUN sudo true\n")
	r := f.Stages[0].Instructions[0]
	if strings.Join(r.Ignores, ",") != "KS-DF-006,KS-DF-020" || r.IgnoreLine != 2 {
		t.Errorf("ignores = %v line %d", r.Ignores, r.IgnoreLine)
	}
	if len(f.Stages[0].Instructions[1].Ignores) != 0 {
		t.Errorf("an ignore separated by a blank line must not apply")
	}
}

// TestBadInput: each bad input gives one *Error naming the file and the problem.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := append([]byte("FROM debian:12\nRUN echo "), []byte(strings.Repeat("a", 10<<20))...)
	for _, tc := range []struct {
		name, path, want string
		notDF            bool
	}{
		{"json", write("x.json", []byte(`{"name": "app", "version": "1.0"}`)), `unknown instruction "{\"name\":"`, true},
		{"readme", write("README.md", []byte("# My app\n\nThis is a readme.\n")), `:3: not a Dockerfile: unknown instruction "This"`, true},
		{"comments only", write("c", []byte("# just\n# comments\n")), "no instructions", true},
		{"long line small file", write("long2", append([]byte("FROM debian:12\nRUN echo "), []byte(strings.Repeat("b", 100<<10))...)), ":2: not a Dockerfile: line is longer than", true},
		{"prose", write("notes.txt", []byte("Hello world\nthis is text\n")), `unknown instruction "Hello"`, true},
		{"binary", write("bin", []byte{0x7f, 'E', 'L', 'F', 0, 1, 2}), "binary data", true},
		{"heredoc", write("heredoc", []byte("FROM debian:12\nRUN <<EOF\necho hi\n")), "unterminated heredoc", false},
		{"long line", write("long", long), ":2: not a Dockerfile: line is longer than", true},
		{"no from", write("nofrom", []byte("RUN echo hi\n")), "before the first FROM", true},
		{"missing", filepath.Join(dir, "does-not-exist"), "no such file", false},
		{"folder", dir, "is a folder", false},
		{"empty", write("empty", nil), "no instructions", true},
		{"device", "/dev/zero", "not a regular file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFile(tc.path)
			if err == nil {
				t.Fatalf("no error, got %d stages", len(f.Stages))
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Path != tc.path {
				t.Fatalf("error %v is not an *Error naming %s", err, tc.path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.path) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || len(msg) > 300 {
				t.Fatalf("error %q: want one line starting with the path and containing %q", msg, tc.want)
			}
			if tc.notDF != errors.Is(err, ErrNotDockerfile) {
				t.Errorf("errors.Is(ErrNotDockerfile) = %v", !tc.notDF)
			}
		})
	}
}

func TestHistoryAlignment(t *testing.T) {
	f := mustParse(t, "FROM golang:1.22 AS b\nRUN go build -o /app\nFROM debian:12 AS base\nENV A=1\nFROM base\nARG V=1\nWORKDIR /srv\nRUN --mount=type=cache,target=/root/.cache apt-get update && \\\n  apt-get install -y curl\nCOPY --from=b /app /app\nCMD [\"/app\"]\n")
	steps := f.HistorySteps()
	var kinds []string
	for _, s := range steps {
		kinds = append(kinds, s.Instruction.Cmd)
	}
	if strings.Join(kinds, ",") != "env,workdir,run,copy,cmd" {
		t.Fatalf("steps = %v", kinds)
	}
	history := []string{
		"/bin/sh -c #(nop) ADD file:abc in / ", // base image
		"/bin/sh -c #(nop)  CMD [\"bash\"]",    // base image
		"ENV A=1",                              // BuildKit
		"WORKDIR /srv",                         //
		"RUN |1 V=1 /bin/sh -c apt-get update &&   apt-get install -y curl # buildkit",
		"COPY /app /app # buildkit", // text differs (--from dropped): kind match
		"CMD [\"/app\"]",            //
	}
	got := AlignHistory(steps, history)
	want := []int{-1, -1, 0, 1, 2, 3, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("AlignHistory = %v, want %v", got, want)
		}
	}
	if steps[2].Line() != 8 || !steps[0].EmptyLayer || steps[2].EmptyLayer {
		t.Errorf("step lines/layers wrong: %+v", steps[2])
	}
	if n := NormalizeCreatedBy("/bin/sh -c apt-get   update"); n != "RUN apt-get update" {
		t.Errorf("classic RUN normalized to %q", n)
	}
}
