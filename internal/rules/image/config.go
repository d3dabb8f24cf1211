package image

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/kensa-sec/kensa/internal/secret"
)

func itoa(i int) string { return strconv.Itoa(i) }

// stepSecret is a credential inside a history created_by string.
type stepSecret struct {
	start, end int
	what       string // "build argument TOKEN", "ENV KEY", "command"
	key        string // variable name for ENV/ARG/LABEL, "" otherwise
	m          secret.Match
}

// stepSecrets finds credentials in a created_by string: build arguments
// recorded as "|N K=V ... /bin/sh -c ..." (classic builder, BuildKit,
// buildah), ENV/ARG/LABEL instructions (with or without the
// "/bin/sh -c #(nop)" prefix), and token patterns anywhere in the text
// (RUN arguments). Spans do not overlap.
func stepSecrets(s string) []stepSecret {
	var out []stepSecret
	for _, m := range secret.Scan([]byte(s)) {
		out = append(out, stepSecret{start: m.Start, end: m.End, what: "command", m: m})
	}
	addKV := func(kind, key, val string, valStart int) {
		for _, m := range secret.ScanKeyValue(key, val) {
			out = append(out, stepSecret{start: valStart + m.Start, end: valStart + m.End, what: kind + " " + key, key: key, m: m})
		}
	}
	rest, off := s, 0
	trim := func(prefix string) bool {
		if strings.HasPrefix(rest, prefix) {
			rest, off = rest[len(prefix):], off+len(prefix)
			return true
		}
		return false
	}
	trimSpace := func() {
		t := strings.TrimLeft(rest, " \t")
		off += len(rest) - len(t)
		rest = t
	}
	trim("RUN ")
	if len(rest) > 1 && rest[0] == '|' && rest[1] >= '0' && rest[1] <= '9' {
		// |N K=V K=V /bin/sh -c ...
		sp := strings.IndexByte(rest, ' ')
		n, err := strconv.Atoi(rest[1:max(sp, 1)])
		if sp > 0 && err == nil {
			rest, off = rest[sp+1:], off+sp+1
			for i := 0; i < n && rest != ""; i++ {
				tok, _, _ := strings.Cut(rest, " ")
				if k, v, ok := strings.Cut(tok, "="); ok {
					addKV("build argument", k, v, off+len(k)+1)
				}
				adv := min(len(tok)+1, len(rest))
				rest, off = rest[adv:], off+adv
			}
		}
	}
	trim("/bin/sh -c ")
	trimSpace()
	trim("#(nop)")
	trimSpace()
	for _, kind := range []string{"ENV", "ARG", "LABEL"} {
		if !trim(kind + " ") {
			continue
		}
		for _, p := range splitPairs(rest) {
			addKV(kind, p.key, p.val, off+p.valStart)
		}
		break
	}
	return dedupeSpans(out)
}

type pair struct {
	key, val string
	valStart int
}

// splitPairs reads K=V K2="V 2" pairs (or the legacy "K V" form) as
// Docker records them; quotes are kept out of values.
func splitPairs(s string) []pair {
	var out []pair
	first, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	if !strings.Contains(first, "=") {
		// Legacy ENV K V: the rest of the line is the value.
		k, v, _ := strings.Cut(strings.TrimLeft(s, " "), " ")
		v = strings.TrimLeft(v, " ")
		return []pair{{key: k, val: v, valStart: len(s) - len(v)}}
	}
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		key := s[i : i+eq]
		if strings.ContainsAny(key, " \t") {
			break
		}
		j := i + eq + 1
		var val string
		start := j
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			q := s[j]
			end := strings.IndexByte(s[j+1:], q)
			if end < 0 {
				end = len(s) - j - 1
			}
			start = j + 1
			val = s[start : start+end]
			j = min(len(s), start+end+1)
		} else {
			end := strings.IndexByte(s[j:], ' ')
			if end < 0 {
				end = len(s) - j
			}
			val = s[j : j+end]
			j += end
		}
		out = append(out, pair{key: strings.Trim(key, `"'`), val: val, valStart: start})
		i = j
	}
	return out
}

// dedupeSpans keeps non-overlapping spans, preferring specific rules and
// named variables over generic command-text matches.
func dedupeSpans(ss []stepSecret) []stepSecret {
	rank := func(s stepSecret) int {
		r := 0
		if s.m.RuleID == "KS-SE-generic-password" {
			r += 2
		}
		if s.key == "" {
			r++
		}
		return r
	}
	sort.SliceStable(ss, func(i, j int) bool {
		if rank(ss[i]) != rank(ss[j]) {
			return rank(ss[i]) < rank(ss[j])
		}
		return ss[i].start < ss[j].start
	})
	var out []stepSecret
	for _, s := range ss {
		overlap := false
		for _, o := range out {
			if s.start < o.end && o.start < s.end {
				overlap = true
				break
			}
		}
		if !overlap {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// RedactStep returns a history created_by string with every credential it
// holds (build arguments, ENV/ARG/LABEL values, tokens in commands)
// replaced by its redacted form. Use it wherever a step is shown.
func RedactStep(s string) string {
	ss := stepSecrets(s)
	for i := len(ss) - 1; i >= 0; i-- {
		s = s[:ss[i].start] + ss[i].m.Redacted + s[ss[i].end:]
	}
	return s
}

// historySecrets is KS-IM-003: credentials in history created_by. The same
// leak repeated in later steps (a build argument is recorded in every RUN
// after its ARG) is one finding naming the first step and the count.
func (c *checker) historySecrets() []finding.Finding {
	// Values still in the config are reported by envSecrets (KS-IM-002).
	inConfig := map[string]string{}
	if c.in.Config != nil {
		for _, e := range c.in.Config.Config.Env {
			k, v, _ := strings.Cut(e, "=")
			inConfig["ENV "+k] = v
		}
		for k, v := range c.in.Config.Config.Labels {
			inConfig["LABEL "+k] = v
		}
	}
	type group struct {
		f     finding.Finding
		count int
	}
	var order []string
	groups := map[string]*group{}
	r := rules.MustLookup("KS-IM-003")
	for idx, h := range c.hist {
		for _, s := range stepSecrets(h.createdBy) {
			if v, ok := inConfig[s.what]; ok && strings.Contains(v, h.createdBy[s.start:s.end]) {
				continue // the config Env/Label finding (KS-IM-002) covers it
			}
			key := s.what + "\x00" + s.m.Redacted
			if g, ok := groups[key]; ok {
				g.count++
				l := c.loc(h.layer, "")
				l.Step = h.redacted
				g.f.Related = append(g.f.Related, l)
				continue
			}
			l := c.loc(h.layer, "")
			l.Step = h.redacted
			f := r.NewFinding(fmt.Sprintf("history step %d: %s holds a credential (%s %s)", idx, s.what, s.m.Title, s.m.Redacted), l)
			if strings.HasPrefix(s.what, "build argument") || strings.HasPrefix(s.what, "ARG") {
				f.Fix = fmt.Sprintf("Do not pass %s as a build argument: use `RUN --mount=type=secret,id=%s` and read /run/secrets/%s; rotate the leaked value and rebuild.", s.key, strings.ToLower(s.key), strings.ToLower(s.key))
			}
			groups[key] = &group{f: f}
			order = append(order, key)
		}
	}
	var out []finding.Finding
	for _, k := range order {
		g := groups[k]
		if g.count > 0 {
			g.f.Message += fmt.Sprintf(" (also recorded in %d later steps)", g.count)
		}
		out = append(out, g.f)
	}
	return out
}

// histFor returns the last history entry recording an instruction kind
// ("ENV", "LABEL", "USER", "EXPOSE") whose text contains needle, or nil.
func (c *checker) histFor(kind, needle string) *histEntry {
	for i := len(c.hist) - 1; i >= 0; i-- {
		h := &c.hist[i]
		t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(h.createdBy, "/bin/sh -c")), "#(nop)"))
		if strings.HasPrefix(t, kind+" ") && strings.Contains(t, needle) {
			return h
		}
	}
	return nil
}

func (c *checker) histLoc(kind, needle string) finding.Location {
	h := c.histFor(kind, needle)
	if h == nil {
		return finding.Location{}
	}
	l := c.loc(h.layer, "")
	l.Step = h.redacted
	return l
}

// envSecrets is KS-IM-002: credentials in config Env (and labels).
func (c *checker) envSecrets() []finding.Finding {
	if c.in.Config == nil {
		return nil
	}
	r := rules.MustLookup("KS-IM-002")
	var out []finding.Finding
	report := func(kind, k, v string) {
		ms := secret.ScanKeyValue(k, v)
		if len(ms) == 0 {
			return
		}
		best := ms[0]
		for _, m := range ms {
			if best.RuleID == "KS-SE-generic-password" && m.RuleID != best.RuleID {
				best = m
			}
		}
		l := c.histLoc(map[string]string{"Env": "ENV", "Label": "LABEL"}[kind], k)
		f := r.NewFinding(fmt.Sprintf("config %s %s holds a credential (%s %s)", kind, k, best.Title, best.Redacted), l)
		f.Fix = fmt.Sprintf("Remove %s from the Dockerfile's %s and inject it at runtime (orchestrator secret, `docker run -e %s` from a secret store); rotate the leaked value.", k, strings.ToUpper(kind), k)
		out = append(out, f)
	}
	for _, e := range c.in.Config.Config.Env {
		k, v, _ := strings.Cut(e, "=")
		report("Env", k, v)
	}
	keys := make([]string, 0, len(c.in.Config.Config.Labels))
	for k := range c.in.Config.Config.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		report("Label", k, c.in.Config.Config.Labels[k])
	}
	return out
}

// rootUser is KS-IM-001: the config user is empty, root, 0, or a name
// /etc/passwd maps to UID 0.
func (c *checker) rootUser() []finding.Finding {
	if c.in.Config == nil {
		return nil
	}
	u := strings.TrimSpace(c.in.Config.Config.User)
	name, _, _ := strings.Cut(u, ":")
	var why string
	switch {
	case name == "":
		why = "the image config sets no user: containers run as root"
	case name == "root" || name == "0":
		why = fmt.Sprintf("the image config user is %q: containers run as root", u)
	default:
		if uid, ok := c.uidOf(name); ok && uid == "0" {
			why = fmt.Sprintf("the image config user %q has UID 0 in /etc/passwd: containers run as root", u)
		}
	}
	if why == "" {
		return nil
	}
	l := c.histLoc("USER", "")
	return []finding.Finding{rules.MustLookup("KS-IM-001").NewFinding(why, l)}
}

// uidOf looks a user name up in the final /etc/passwd.
func (c *checker) uidOf(name string) (string, bool) {
	b, ok := c.im.FileContent("/etc/passwd")
	if !ok {
		return "", false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Split(string(line), ":")
		if len(f) >= 3 && f[0] == name {
			return f[2], true
		}
	}
	return "", false
}

// healthcheck is KS-IM-008. "HEALTHCHECK NONE" is an explicit choice and
// is not reported.
func (c *checker) healthcheck() []finding.Finding {
	if c.in.Config == nil {
		return nil
	}
	if hc := c.in.Config.Config.Healthcheck; hc != nil && len(hc.Test) > 0 {
		return nil
	}
	return []finding.Finding{rules.MustLookup("KS-IM-008").NewFinding("the image config has no healthcheck", finding.Location{})}
}

// ports is KS-IM-011: SSH (22) is MEDIUM; other privileged ports (< 1024)
// are LOW: they need root or CAP_NET_BIND_SERVICE on older runtimes but
// are common for web servers.
func (c *checker) ports() []finding.Finding {
	if c.in.Config == nil {
		return nil
	}
	keys := make([]string, 0, len(c.in.Config.Config.ExposedPorts))
	for k := range c.in.Config.Config.ExposedPorts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := rules.MustLookup("KS-IM-011")
	var out []finding.Finding
	for _, k := range keys {
		port, _, _ := strings.Cut(k, "/")
		lo, hi, isRange := strings.Cut(port, "-")
		from, err1 := strconv.Atoi(lo)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || from <= 0 {
			continue
		}
		l := c.histLoc("EXPOSE", lo)
		switch {
		case from <= 22 && 22 <= to:
			f := r.NewFinding(fmt.Sprintf("exposes SSH port %s", k), l)
			f.Fix = "Remove the SSH server and `EXPOSE 22`; use `docker exec`/`kubectl exec` for access."
			out = append(out, f)
		case from < 1024:
			f := r.NewFinding(fmt.Sprintf("exposes privileged port %s (below 1024)", k), l)
			f.Severity = finding.SeverityLow
			f.Fix = fmt.Sprintf("Listen on an unprivileged port (e.g. %d) in the container and map it at runtime (`-p %d:%d`).", 8000+from, from, 8000+from)
			out = append(out, f)
		}
	}
	return out
}
