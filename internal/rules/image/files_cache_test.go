package image

import "testing"

// TestCacheRootsCoverSpecs: the prefix filter in front of the cache
// expressions lets through a path of every cache kind, so it never hides
// a cache KS-IM-009 would report.
func TestCacheRootsCoverSpecs(t *testing.T) {
	examples := map[string]string{
		"apt package lists": "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
		"apt package cache": "/var/cache/apt/archives/curl_7.88.1-10_amd64.deb",
		"apk cache":         "/var/cache/apk/APKINDEX.tar.gz",
		"pip cache":         "/home/app/.cache/pip/http/a/b/c",
		"npm cache":         "/root/.npm/_cacache/index-v5/00/11",
		"yarn cache":        "/usr/local/share/.cache/yarn/v6/npm-left-pad-1.3.0",
		"yum/dnf cache":     "/var/cache/dnf/fedora.solv",
		"Go build cache":    "/root/.cache/go-build/00/0011-d",
	}
	if len(examples) != len(cacheSpecs) {
		t.Fatalf("%d examples for %d cache kinds", len(examples), len(cacheSpecs))
	}
	for _, cs := range cacheSpecs {
		p, ok := examples[cs.name]
		if !ok {
			t.Errorf("no example for %s", cs.name)
			continue
		}
		if !cs.re().MatchString(p) || !mayBeCache(p) {
			t.Errorf("%s: %s matches %v, passes the prefix filter %v; want both", cs.name, p, cs.re().MatchString(p), mayBeCache(p))
		}
	}
	if mayBeCache("/usr/lib/x86_64-linux-gnu/libc.so.6") {
		t.Error("the prefix filter lets a library through")
	}
}
