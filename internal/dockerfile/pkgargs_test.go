package dockerfile

import (
	"slices"
	"testing"
)

func TestSplitPkgArgs(t *testing.T) {
	for _, c := range []struct {
		mgr        string
		args       []string
		opts, pkgs []string
		sub        int
	}{
		{"apt", []string{"-y", "-o", "Dpkg::Options::=--force-confnew", "install", "--no-install-recommends", "curl", "ca-certificates"},
			[]string{"-y", "-o", "Dpkg::Options::=--force-confnew", "--no-install-recommends"}, []string{"curl", "ca-certificates"}, 3},
		{"apk", []string{"add", "--virtual", ".build", "gcc"}, []string{"--virtual", ".build"}, []string{"gcc"}, 0},
		{"pip", []string{"install", "-r", "requirements.txt"}, []string{"-r", "requirements.txt"}, nil, 0},
		{"npm", []string{"--version"}, []string{"--version"}, nil, -1},
		{"apt", []string{"install", "-"}, nil, []string{"-"}, 0},
	} {
		opts, sub, pkgs := SplitPkgArgs(c.mgr, c.args)
		if !slices.Equal(opts, c.opts) || sub != c.sub || !slices.Equal(pkgs, c.pkgs) {
			t.Errorf("%s %q: opts %q sub %d pkgs %q, want %q %d %q", c.mgr, c.args, opts, sub, pkgs, c.opts, c.sub, c.pkgs)
		}
	}
}
