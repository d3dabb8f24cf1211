package extract

import (
	"path"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/inventory/java"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

// mavenRepoRoots are the folders below which a Maven repository layout
// (<group path>/<artifact>/<version>/<artifact>-<version>.jar) links to
// archives kept elsewhere: Debian and Ubuntu install every Java library
// package's jar in /usr/share/java and link it from /usr/share/maven-repo.
var mavenRepoRoots = []string{"/usr/share/maven-repo/"}

// coordinates are a Maven artifact's group, artifact and version.
type coordinates struct{ group, artifact, version string }

// nameFromMavenRepo renames the Java archives that had no pom.properties
// (IdentifiedBy "manifest", named from their manifest and file name, so
// the group was a guess) after the Maven repository links that point at
// them: Debian's libxz-java jar is org.tukaani:xz by the link
// /usr/share/maven-repo/org/tukaani/xz/1.9/xz-1.9.jar. Only the package
// named after the archive itself is renamed, not archives nested in it.
func nameFromMavenRepo(img *layerfs.Image, pkgs []inventory.Package) {
	var byTarget map[string]coordinates
	for i := range pkgs {
		p := &pkgs[i]
		if p.Type != "maven" || p.IdentifiedBy != "manifest" {
			continue
		}
		if byTarget == nil {
			byTarget = mavenRepoLinks(img)
		}
		c, ok := byTarget[p.Path]
		if !ok {
			continue
		}
		if a, _ := java.SplitArchiveName(p.Path, ""); p.Name != a && !strings.HasSuffix(p.Name, ":"+a) {
			continue // an archive nested in this one
		}
		if c.version != "" {
			p.Version = c.version
		}
		p.Name = c.group + ":" + c.artifact
		p.PURL = inventory.PURL("maven", c.group, c.artifact, p.Version, nil)
		p.IdentifiedBy = "maven-repo"
	}
}

// mavenRepoLinks maps each archive that a Maven repository layout links
// to (following symlinks) to the coordinates of the link. A numbered
// version folder wins over Debian's "debian" one.
func mavenRepoLinks(img *layerfs.Image) map[string]coordinates {
	out := map[string]coordinates{}
	for p, st := range img.Files() {
		if st.Type != layerfs.TypeSymlink {
			continue
		}
		c, ok := repoCoordinates(p)
		if !ok {
			continue
		}
		target, ok := resolveLink(img, p)
		if !ok {
			continue
		}
		if old, seen := out[target]; seen && old.version != "" {
			continue
		}
		out[target] = c
	}
	return out
}

// repoCoordinates reads <root><group path>/<artifact>/<version>/<file>;
// the version is empty for Debian's "debian" folder.
func repoCoordinates(p string) (coordinates, bool) {
	for _, root := range mavenRepoRoots {
		rest, ok := strings.CutPrefix(p, root)
		if !ok {
			continue
		}
		seg := strings.Split(rest, "/")
		if len(seg) < 4 {
			return coordinates{}, false
		}
		n := len(seg)
		file, version, artifact := seg[n-1], seg[n-2], seg[n-3]
		if !strings.HasPrefix(file, artifact+"-") || path.Ext(file) != ".jar" {
			return coordinates{}, false
		}
		c := coordinates{group: strings.Join(seg[:n-3], "."), artifact: artifact, version: version}
		if file != artifact+"-"+version+".jar" && version != "debian" {
			return coordinates{}, false // a classifier or another artifact's file
		}
		// Debian links each artifact from a "debian" folder and some from a
		// "<major>.x" one too: neither is a version.
		if version == "debian" || strings.HasSuffix(version, ".x") {
			c.version = ""
		}
		return c, true
	}
	return coordinates{}, false
}

// resolveLink follows the symlink at p, and symlinks it leads to, to a
// regular file of the final filesystem.
func resolveLink(img *layerfs.Image, p string) (string, bool) {
	for range 8 {
		st, ok := img.File(p)
		if !ok {
			return "", false
		}
		switch st.Type {
		case layerfs.TypeFile:
			return p, true
		case layerfs.TypeSymlink:
			t := st.Linkname
			if !strings.HasPrefix(t, "/") {
				t = path.Join(path.Dir(p), t)
			}
			p = path.Clean(t)
		default:
			return "", false
		}
	}
	return "", false
}
