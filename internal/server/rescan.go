package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// Fingerprints maps advisory IDs to a hash of their record and the
// packages they name, to tell which advisories an import or update
// changed and which stored packages that touches.
type Fingerprints map[string]Fingerprint

// Fingerprint is one advisory's record hash and package names.
type Fingerprint struct {
	Sum   [32]byte
	Names []store.PackageName
}

// AdvisoryFingerprints reads every advisory of the database at path; a
// missing database has none.
func AdvisoryFingerprints(path string) (Fingerprints, error) {
	fp := Fingerprints{}
	db, err := vulndb.Open(path)
	if errors.Is(err, vulndb.ErrNoDB) {
		return fp, nil
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	err = db.ForEach(func(a *vulndb.Advisory) error {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		f := Fingerprint{Sum: sha256.Sum256(b)}
		for _, af := range a.Affected {
			eco, _, _ := strings.Cut(af.Package.Ecosystem, ":")
			f.Names = append(f.Names, store.PackageName{Ecosystem: eco, Name: af.Package.Name})
		}
		fp[a.ID] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read advisories of %s: %w", path, err)
	}
	return fp, nil
}

// Changed returns the advisories added, modified or removed between before
// and after, and the distinct package names they name (in either version).
func Changed(before, after Fingerprints) (ids []string, names []store.PackageName) {
	seen := map[store.PackageName]bool{}
	add := func(ns []store.PackageName) {
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	for id, f := range after {
		if old, ok := before[id]; !ok || old.Sum != f.Sum {
			ids = append(ids, id)
			add(f.Names)
			add(old.Names)
		}
	}
	for id, f := range before {
		if _, ok := after[id]; !ok {
			ids = append(ids, id)
			add(f.Names)
		}
	}
	return ids, names
}

// RescanResult says what a rescan touched.
type RescanResult struct {
	Packages int // distinct package names asked for
	Sets     int // package sets re-matched
	Images   int // image references whose latest result was re-matched
}

// Rescan re-matches, against the database at dbPath, the stored package
// sets holding a package with one of names (by name or source package
// name). It reads no layer: the packages come from the store.
func Rescan(ctx context.Context, st *store.Store, dbPath string, names []store.PackageName) (RescanResult, error) {
	res := RescanResult{Packages: len(names)}
	if len(names) == 0 {
		return res, nil
	}
	db, err := vulndb.Open(dbPath)
	if err != nil {
		return res, fmt.Errorf("vulnerability database: %w", err)
	}
	defer db.Close()
	sets, err := st.SetsNaming(ctx, names)
	if err != nil {
		return res, err
	}
	for _, h := range sets {
		err := st.Rematch(ctx, h, func(set *store.PackageSet) (store.Vulns, error) {
			return matchDB(db, set)
		})
		if err != nil {
			return res, err
		}
	}
	res.Sets = len(sets)
	if res.Images, err = st.ImagesOfSets(ctx, sets); err != nil {
		return res, err
	}
	return res, nil
}
