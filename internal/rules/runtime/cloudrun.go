package runtime

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/manifest"
)

// Cloud Run annotation keys.
const (
	annIngress   = "run.googleapis.com/ingress"
	annEgress    = "run.googleapis.com/vpc-access-egress"
	annConnector = "run.googleapis.com/vpc-access-connector"
	annNetworks  = "run.googleapis.com/network-interfaces"
)

var defaultComputeSA = regexp.MustCompile(`^\d+-compute@developer\.gserviceaccount\.com$`)

// networkInterface is one entry of the network-interfaces annotation.
type networkInterface struct {
	Network    string   `json:"network"`
	Subnetwork string   `json:"subnetwork"`
	Tags       []string `json:"tags"`
}

// parseNetworks validates a network-interfaces value: a JSON array of
// objects, each naming a network or subnetwork.
func parseNetworks(v string) ([]networkInterface, error) {
	var nis []networkInterface
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nis); err != nil {
		return nil, fmt.Errorf("not a JSON array of {network, subnetwork, tags} objects: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON array")
	}
	if len(nis) == 0 {
		return nil, fmt.Errorf("empty array: no network interface")
	}
	for i, ni := range nis {
		if ni.Network == "" && ni.Subnetwork == "" {
			return nil, fmt.Errorf("entry %d names neither a network nor a subnetwork", i)
		}
	}
	return nis, nil
}

// checkCloudRun runs KS-RT-022..024 on one Knative/Cloud Run service.
func (c *Checker) checkCloudRun(w *manifest.Workload) {
	if a, ok := w.TemplateAnnotations[annNetworks]; ok {
		if _, err := parseNetworks(a.V); err != nil {
			c.add("KS-RT-022", w, a.Line, fmt.Sprintf("%s: %s is malformed: %v", w.Describe(), annNetworks, err),
				"```yaml\n    metadata:\n      annotations:\n        run.googleapis.com/network-interfaces: '[{\"network\":\"default\",\"subnetwork\":\"default\"}]'\n        run.googleapis.com/vpc-access-egress: all-traffic\n```")
		}
	}
	for _, ct := range w.Containers {
		var missing []string
		if !w.ContainerConcurrency.Set {
			missing = append(missing, "containerConcurrency")
		}
		if !ct.CPULimit.Set || !ct.MemoryLimit.Set {
			missing = append(missing, "resources.limits (cpu and memory)")
		}
		if len(missing) == 0 {
			continue
		}
		line := ct.ResourcesLine
		if line == 0 {
			line = ct.Line
		}
		c.add("KS-RT-023", w, line, fmt.Sprintf("%s: %s sets no %s", w.Describe(), orDefault(ct.Name, "container"), strings.Join(missing, " and ")),
			"```yaml\nspec:\n  template:\n    spec:\n      containerConcurrency: 80\n      containers:\n        - image: ...\n          resources:\n            limits:\n              cpu: \"1\"\n              memory: 512Mi\n```")
	}
	sa := w.ServiceAccount
	if !sa.Set || defaultComputeSA.MatchString(sa.V) {
		msg := fmt.Sprintf("%s sets no serviceAccountName: it runs as the project's default compute service account (Editor on the project)", w.Describe())
		line := w.SpecLine
		if sa.Set {
			msg, line = fmt.Sprintf("%s runs as the default compute service account %s (Editor on the project)", w.Describe(), sa.V), sa.Line
		}
		c.add("KS-RT-024", w, line, msg,
			fmt.Sprintf("```yaml\nspec:\n  template:\n    spec:\n      serviceAccountName: %s@<project>.iam.gserviceaccount.com\n```\n(`gcloud iam service-accounts create %s` and grant it only the roles it needs)", orDefault(w.Name, "app"), orDefault(w.Name, "app")))
	}
}

// ingress returns a service's ingress setting and its line ("all" when unset).
func ingress(w *manifest.Workload) (string, int) {
	if a, ok := w.Annotations[annIngress]; ok {
		return a.V, a.Line
	}
	return "all", 0
}

// vpcEgress reports whether all of a service's egress goes through a VPC
// (egress all-traffic with a connector or valid Direct VPC interfaces),
// and describes what it has.
func vpcEgress(w *manifest.Workload) (bool, string) {
	eg, hasEg := w.TemplateAnnotations[annEgress]
	_, conn := w.TemplateAnnotations[annConnector]
	nets := false
	if a, ok := w.TemplateAnnotations[annNetworks]; ok {
		_, err := parseNetworks(a.V)
		nets = err == nil
	}
	path := conn || nets
	switch {
	case !hasEg && !path:
		return false, "no VPC egress (no vpc-access-egress, connector or network-interfaces)"
	case !path:
		return false, fmt.Sprintf("vpc-access-egress: %s but no vpc-access-connector or valid network-interfaces", eg.V)
	case !hasEg || eg.V != "all-traffic":
		v := "private-ranges-only (the default)"
		if hasEg {
			v = eg.V
		}
		return false, fmt.Sprintf("vpc-access-egress: %s, so requests to *.run.app leave through the internet", v)
	}
	return true, ""
}

// call is an environment value of one service that holds another's URL.
type call struct {
	caller *manifest.Workload
	env    manifest.Env
	callee *manifest.Workload
}

// findCalls lists the calls between scanned services: an env value that is
// a Cloud Run URL (https://NAME-HASH-REGION.a.run.app, https://NAME-PROJECT.REGION.run.app)
// of another scanned service.
func findCalls(svcs []*manifest.Workload) []call {
	byName := map[string]*manifest.Workload{}
	var names []string
	for _, s := range svcs {
		if s.Name != "" && byName[s.Name] == nil {
			byName[s.Name] = s
			names = append(names, s.Name)
		}
	}
	// Longest name first, so "api-gateway" wins over "api" for api-gateway-x.a.run.app.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	var out []call
	for _, s := range svcs {
		for _, ct := range s.Containers {
			for _, e := range ct.Env {
				host := runAppHost(e.Value)
				if host == "" {
					continue
				}
				for _, n := range names {
					if strings.HasPrefix(host, n+"-") && byName[n] != s {
						out = append(out, call{caller: s, env: e, callee: byName[n]})
						break
					}
				}
			}
		}
	}
	return out
}

// runAppHost returns the host of a *.run.app URL in v ("" if none).
func runAppHost(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if !strings.HasSuffix(h, ".run.app") {
		return ""
	}
	return h
}

// checkCalls runs KS-RT-020 and KS-RT-021 across the scanned services.
func (c *Checker) checkCalls() {
	calls := findCalls(c.services)
	callers := map[*manifest.Workload][]call{}
	var callees []*manifest.Workload
	for _, cl := range calls {
		if callers[cl.callee] == nil {
			callees = append(callees, cl.callee)
		}
		callers[cl.callee] = append(callers[cl.callee], cl)
		in, inLine := ingress(cl.callee)
		if in == "all" {
			continue
		}
		ok, why := vpcEgress(cl.caller)
		if ok {
			continue
		}
		where := fmt.Sprintf("%s:%d", cl.callee.File, inLine)
		f := c.add("KS-RT-021", cl.caller, cl.env.Line,
			fmt.Sprintf("%s calls %s (%s=%s) but %s has ingress %s (%s) and %s has %s: this call will get 404 Not Found",
				cl.caller.Describe(), cl.callee.Name, cl.env.Name, cl.env.Value, cl.callee.Name, in, where, cl.caller.Name, why),
			fmt.Sprintf("On %s's revision template:\n```yaml\nspec:\n  template:\n    metadata:\n      annotations:\n        run.googleapis.com/vpc-access-egress: all-traffic\n        run.googleapis.com/network-interfaces: '[{\"network\":\"default\",\"subnetwork\":\"default\"}]'\n        # or: run.googleapis.com/vpc-access-connector: projects/<p>/locations/<region>/connectors/<name>\n```", cl.caller.Name))
		f.Related = append(f.Related, finding.Location{Path: cl.callee.File, Line: inLine})
	}
	for _, callee := range callees {
		in, inLine := ingress(callee)
		if in != "all" {
			continue
		}
		var names []string
		for _, cl := range callers[callee] {
			names = append(names, fmt.Sprintf("%s (%s:%d)", cl.caller.Name, cl.caller.File, cl.env.Line))
		}
		line := inLine
		if line == 0 {
			line = callee.AnnotationsLine
		}
		what := "ingress all"
		if inLine == 0 {
			what = "no ingress annotation (default: all)"
		}
		c.add("KS-RT-020", callee, line,
			fmt.Sprintf("%s has %s, yet it is called by %s: it accepts requests from the internet", callee.Describe(), what, strings.Join(names, ", ")),
			"```yaml\nmetadata:\n  annotations:\n    run.googleapis.com/ingress: internal-and-cloud-load-balancing\n```\nand give every caller `run.googleapis.com/vpc-access-egress: all-traffic` with a connector or `network-interfaces` (KS-RT-021), or its calls get 404 Not Found.")
	}
}
