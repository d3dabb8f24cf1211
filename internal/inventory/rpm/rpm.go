// Package rpm reads the installed-package database of RPM-based images in
// its three formats: SQLite (rpmdb.sqlite), NDB (Packages.db) and Berkeley
// DB (Packages).
//
// The reader library needs a file path, so Extract writes the bytes to a
// private temporary directory (Extractor.TempDir, or os.TempDir()) and
// removes it before returning: the one place where the inventory touches
// the disk.
package rpm

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver rpmdb uses

	"github.com/kensa-sec/kensa/internal/inventory"
)

// MaxSize is the largest database Extract accepts.
const MaxSize = 512 << 20

// Extractor reads rpm databases.
type Extractor struct {
	// TempDir is where the database is copied for the reader; "" means
	// os.TempDir().
	TempDir string
	// Timeout bounds the time spent reading one database; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds reading one rpm database.
const DefaultTimeout = 30 * time.Second

// Name identifies the extractor.
func (Extractor) Name() string { return "rpm" }

// Wants reports whether p is an rpm database.
func (Extractor) Wants(p string, _ fs.FileMode) bool {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return false
	}
	switch p[:i] {
	case "/var/lib/rpm", "/usr/lib/sysimage/rpm", "/usr/share/rpm":
	default:
		return false
	}
	switch path.Base(p) {
	case "rpmdb.sqlite", "Packages.db", "Packages":
		return true
	}
	return false
}

var sqliteMagic = []byte("SQLite format 3\x00")

// Extract lists the installed packages. gpg-pubkey entries (imported
// signing keys, not software) are skipped.
func (e Extractor) Extract(p string, content []byte) (pkgs []inventory.Package, err error) {
	// The reader indexes header blobs without checking every bound; a
	// corrupt database must not take the scan down.
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("%s: corrupt rpm database: %v", p, r)
		}
	}()
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for an rpm database", p, len(content), MaxSize)
	}
	dir, err := os.MkdirTemp(e.TempDir, "kensa-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("%s: temporary copy: %w", p, err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, path.Base(p))
	if err := os.WriteFile(file, content, 0o600); err != nil {
		return nil, fmt.Errorf("%s: temporary copy: %w", p, err)
	}
	if bytes.HasPrefix(content, sqliteMagic) {
		// The reader does not stop on a failed query; check first.
		if err := checkSQLite(file); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := checkBDB(content); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := checkNDB(content); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	list, err := e.list(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var out []inventory.Package
	for _, r := range list {
		if r.Name == "" || r.Version == "" || r.Name == "gpg-pubkey" {
			continue
		}
		out = append(out, newPackage(r, p))
	}
	return out, nil
}

// list reads the database with the reader library, giving up after
// Timeout (a corrupt Berkeley DB file can keep it busy for minutes; the
// abandoned reader finishes in the background).
func (e Extractor) list(file string) ([]*rpmdb.PackageInfo, error) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	type result struct {
		list []*rpmdb.PackageInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if x := recover(); x != nil {
				r = result{err: fmt.Errorf("corrupt rpm database: %v", x)}
			}
			done <- r
		}()
		db, err := rpmdb.Open(file)
		if err != nil {
			r.err = fmt.Errorf("open rpm database: %w", err)
			return
		}
		defer db.Close()
		// The Berkeley DB reader checks ctx while following overflow
		// page chains (which a corrupt file can make endless).
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r.list, r.err = db.ListPackagesWithContext(ctx)
		if r.err != nil {
			r.err = fmt.Errorf("read rpm database: %w", r.err)
		}
	}()
	select {
	case r := <-done:
		return r.list, r.err
	case <-time.After(timeout):
		return nil, fmt.Errorf("rpm database not read within %v: corrupt?", timeout)
	}
}

func newPackage(r *rpmdb.PackageInfo, p string) inventory.Package {
	evr := r.Version
	if r.Release != "" {
		evr += "-" + r.Release
	}
	epoch := 0
	if r.Epoch != nil {
		epoch = *r.Epoch
	}
	version := evr
	q := map[string]string{"arch": r.Arch}
	if epoch > 0 {
		version = strconv.Itoa(epoch) + ":" + evr
		q["epoch"] = strconv.Itoa(epoch)
	}
	srcName, srcVersion := SplitSourceRPM(r.SourceRpm)
	if srcName == "" {
		srcName, srcVersion = r.Name, evr
	}
	if epoch > 0 {
		srcVersion = strconv.Itoa(epoch) + ":" + srcVersion
	}
	if srcName != r.Name {
		q["upstream"] = r.SourceRpm
	}
	pkg := inventory.NewPackage("rpm", "Red Hat", "", r.Name, evr, p, q)
	pkg.Version = version
	pkg.SourceName = srcName
	pkg.SourceVersion = srcVersion
	pkg.Arch = r.Arch
	if r.License != "" {
		pkg.Licenses = []string{r.License}
	}
	return pkg
}

// SplitSourceRPM splits "bash-4.2.46-34.el7.src.rpm" into "bash" and
// "4.2.46-34.el7"; "" when the name is not of that form.
func SplitSourceRPM(s string) (name, versionRelease string) {
	s = strings.TrimSuffix(s, ".rpm")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[:i] // architecture: src, nosrc
	}
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", ""
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", ""
	}
	return s[:ver], s[ver+1:]
}
