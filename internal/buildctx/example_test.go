package buildctx_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kensa-sec/kensa/internal/buildctx"
)

// ExampleCheck checks a small context whose .dockerignore excludes a file
// that the Dockerfile copies, and which sends an .env file into the image.
func ExampleCheck() {
	dir, err := os.MkdirTemp("", "kensa-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for name, content := range map[string]string{
		".dockerignore": "*.lock\n",
		".env":          "DB_PASSWORD=hunter2\n",
		"app.py":        "print('hi')\n",
		"poetry.lock":   "",
		"Dockerfile":    "FROM python:3.12\nCOPY poetry.lock ./\nCOPY . .\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	fs, st, err := buildctx.Check(context.Background(), buildctx.Options{
		Dir:            dir,
		DockerfilePath: filepath.Join(dir, "Dockerfile"),
		Copies: []buildctx.CopySource{
			{Line: 2, EndLine: 2, Instruction: "COPY", Sources: []string{"poetry.lock"}},
			{Line: 3, EndLine: 3, Instruction: "COPY", Sources: []string{"."}},
		},
	})
	if err != nil {
		panic(err)
	}
	for _, f := range fs {
		fmt.Println(f.ID, f.Severity, "line", f.Location.Line)
	}
	fmt.Println("patterns:", st.Patterns, "files sent:", st.FilesSent)
	// Output:
	// KS-CX-005 HIGH line 2
	// KS-CX-002 HIGH line 3
	// patterns: 1 files sent: 4
}
