package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/spf13/pflag"
)

// trivyOptions are the `kensa scan` flags spelled as Trivy spells them
// where they mean the same thing (README "Coming from Trivy").
type trivyOptions struct {
	// Timeout bounds the whole scan (0: no limit).
	Timeout time.Duration
	// VulnTypes restricts vulnerability matching to OS packages
	// ("os": deb, apk, rpm), language packages ("library"), or both.
	VulnTypes []string
	// ListAllPkgs puts the package list in the report even when the
	// vuln scanner is off (the inventory scanner is added).
	ListAllPkgs bool
	// SkipDBUpdate and OfflineScan are accepted and change nothing:
	// kensa never updates its database, nor asks the network about
	// packages, during a scan.
	SkipDBUpdate, OfflineScan bool
}

// vulnTypes are the values --vuln-type takes.
var vulnTypes = []string{"os", "library"}

// addTrivyFlags registers Trivy's flag spellings on the scan command.
func addTrivyFlags(f *pflag.FlagSet, o *trivyOptions) {
	f.DurationVar(&o.Timeout, "timeout", 0, "give up when the scan takes longer than this (e.g. 5m; default no limit)")
	f.StringSliceVar(&o.VulnTypes, "vuln-type", vulnTypes, "packages to match against the vulnerability database: os (deb, apk, rpm), library (language packages)")
	f.BoolVar(&o.ListAllPkgs, "list-all-pkgs", false, "list every package in the report (JSON packages), also when the vuln scanner is off")
	f.BoolVar(&o.SkipDBUpdate, "skip-db-update", false, "accepted for Trivy users; no effect: kensa never updates the database during a scan (kensa db update does)")
	f.BoolVar(&o.OfflineScan, "offline-scan", false, "accepted for Trivy users; no effect: a kensa scan makes no network requests except pulling a registry image")
}

// check validates the flags (an *InputError for bad values).
func (t *trivyOptions) check() error {
	if t.Timeout < 0 {
		return inputErrorf("--timeout %s: must not be negative", t.Timeout)
	}
	for _, v := range t.VulnTypes {
		if !slices.Contains(vulnTypes, v) {
			return inputErrorf("--vuln-type: unknown type %q (want os, library or both: os,library)", v)
		}
	}
	if len(t.VulnTypes) == 0 {
		return inputErrorf("--vuln-type: name at least one of os, library")
	}
	return nil
}

// matchPackage reports whether --vuln-type lets p be matched; nil when
// every package is matched (both types, or none set: options built
// without the flags).
func (t *trivyOptions) matchPackage() func(inventory.Package) bool {
	os, lib := slices.Contains(t.VulnTypes, "os"), slices.Contains(t.VulnTypes, "library")
	if os == lib {
		return nil
	}
	return func(p inventory.Package) bool { return p.IsOS() == os }
}

// withTimeout applies --timeout to ctx.
func (t *trivyOptions) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, t.Timeout)
}

// timeoutErr names the target and the limit when ctx's deadline cut the
// scan short; other errors pass through.
func (t *trivyOptions) timeoutErr(ctx context.Context, target string, err error) error {
	if t.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if target == "" {
			target = "scan"
		}
		return fmt.Errorf("%s: the scan did not finish within --timeout %s (nothing was reported; raise --timeout)", target, t.Timeout)
	}
	return err
}

// scannersWithInventory adds the inventory scanner for --list-all-pkgs.
func scannersWithInventory(s []string) []string {
	if slices.Contains(s, "inventory") || slices.Contains(s, "vuln") {
		return s
	}
	return append(slices.Clone(s), "inventory")
}

// vulnTypeNote says in the report which packages --vuln-type left out.
func (t *trivyOptions) vulnTypeNote() string {
	if t.matchPackage() == nil {
		return ""
	}
	return "vulnerabilities matched only for --vuln-type " + strings.Join(t.VulnTypes, ",") + " packages"
}
