package rego

import (
	"context"
	"slices"
	"testing"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// scanLeaky scans the real leaky image (built by buildah) with its
// Dockerfile, without caches, as the CLI does for policies.
func scanLeaky(t *testing.T) *imagescan.Result {
	t.Helper()
	ctx := context.Background()
	src, err := source.Open(ctx, testimages.Path(t, testimages.Leaky, testimages.FormDocker), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	df, err := dockerfile.ParseFile(testimages.Dockerfile(t, testimages.Leaky))
	if err != nil {
		t.Fatal(err)
	}
	res, err := imagescan.Scan(ctx, src, "leaky", imagescan.Options{Scanners: imagescan.Scanners{Misconfig: true, Inventory: true}, Dockerfile: df})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestImageInput evaluates policies over a real image: its files, config,
// history and packages reach the policy, and findings that name a layer
// are traced to the Dockerfile line by Result.Attribute.
func TestImageInput(t *testing.T) {
	res := scanLeaky(t)
	src := `package acme.image

allowed_setuid := {"/usr/bin/passwd", "/usr/bin/su", "/usr/bin/mount", "/usr/bin/umount", "/usr/bin/chsh", "/usr/bin/chfn", "/usr/bin/gpasswd", "/usr/bin/newgrp"}

deny contains {"id": "ACME-SUID", "message": sprintf("%s is setuid (uid %d)", [path, f.uid]), "location": {"path": path, "layer_index": f.layer}} if {
	some path, f in input.image.files
	f.setuid
	not path in allowed_setuid
}

deny contains {"id": "ACME-PORT", "message": sprintf("port %s exposed", [p])} if {
	some p in input.image.config.exposed_ports
	startswith(p, "22/")
}

warn contains {"id": "ACME-APT", "message": h.created_by, "location": {"path": input.dockerfile.path, "line": h.dockerfile_line}} if {
	some h in input.image.history
	contains(h.created_by, "apt-get update")
}

warn contains {"id": "ACME-BASH", "message": sprintf("bash %s", [p.version])} if {
	some p in input.packages
	p.name == "bash"
	input.os.id == "debian"
}
`
	e, err := LoadSources(context.Background(), map[string][]byte{"acme.rego": []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	df, _ := dockerfile.ParseFile(testimages.Dockerfile(t, testimages.Leaky))
	df.Path = "Dockerfile"
	in := NewInput(res.Report, Subjects{Image: res, Dockerfile: df})
	if len(in.Image.Files) < 1000 || in.Image.Config.User != "" || in.Image.Config.Env["AWS_ACCESS_KEY_ID"] == "" {
		t.Fatalf("image input: %d files, user %q, env %v", len(in.Image.Files), in.Image.Config.User, in.Image.Config.Env)
	}
	fs, err := e.Eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	res.Attribute(fs)
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
		switch f.ID {
		case "ACME-SUID":
			if f.Location.Path != "/usr/local/bin/suid-helper" || f.Location.DockerfileLine != 12 || f.Location.Layer == "" {
				t.Errorf("setuid finding not traced to the Dockerfile's line 12: %+v", f.Location)
			}
		case "ACME-APT":
			if f.Location.Line != 10 {
				t.Errorf("apt finding at line %d, want 10", f.Location.Line)
			}
		}
	}
	slices.Sort(ids)
	if want := []string{"ACME-APT", "ACME-BASH", "ACME-PORT", "ACME-SUID"}; !slices.Equal(ids, want) {
		t.Errorf("findings %q, want %q", ids, want)
	}

	// The maintainer example on the same image: leaky sets no label.
	ex := loadExample(t, "maintainer.rego")
	fs, err = ex.Eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].ID != "POL-MAINTAINER" || fs[0].Location.Line != 0 {
		t.Errorf("maintainer on leaky: %+v", fs)
	}
}
