package match

import (
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// cvssScore computes the base score of a CVSS v3.0, v3.1 or v4.0 vector.
func cvssScore(vector string) (float64, bool) {
	v := strings.TrimSpace(vector)
	switch {
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, err := cvss31.ParseVector(v)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c, err := cvss30.ParseVector(v)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, err := cvss40.ParseVector(v)
		if err != nil {
			return 0, false
		}
		return c.Score(), true
	}
	return 0, false
}

// scoreSeverity maps a CVSS base score to a severity.
func scoreSeverity(s float64) finding.Severity {
	switch {
	case s >= 9:
		return finding.SeverityCritical
	case s >= 7:
		return finding.SeverityHigh
	case s >= 4:
		return finding.SeverityMedium
	case s > 0:
		return finding.SeverityLow
	}
	return finding.SeverityUnknown
}

// ratingSeverity maps a textual rating (GHSA, Debian urgency, Ubuntu
// priority, Red Hat impact) to a severity.
func ratingSeverity(r string) finding.Severity {
	switch strings.ToLower(strings.TrimSpace(strings.TrimSuffix(r, "*"))) {
	case "critical":
		return finding.SeverityCritical
	case "high", "important":
		return finding.SeverityHigh
	case "moderate", "medium":
		return finding.SeverityMedium
	case "low", "negligible", "unimportant", "not yet assigned":
		return finding.SeverityLow
	}
	return finding.SeverityUnknown
}

// advisorySeverity rates an advisory for the affected entry that matched:
// the highest CVSS v3/v4 base score among its vectors (the entry's own
// first), else the database's or ecosystem's rating, else UNKNOWN.
func advisorySeverity(a *vulndb.Advisory, af *vulndb.Affected) finding.Severity {
	best, found := finding.SeverityUnknown, false
	consider := func(list []vulndb.Severity) {
		for _, s := range list {
			if score, ok := cvssScore(s.Score); ok {
				found = true
				if sev := scoreSeverity(score); sev > best {
					best = sev
				}
			}
		}
	}
	if af != nil {
		consider(af.Severity)
	}
	consider(a.Severity)
	if found {
		return best
	}
	ratings := []string{a.DatabaseSpecific.Severity, a.DatabaseSpecific.Urgency}
	if af != nil {
		ratings = append([]string{af.EcosystemSpecific.Severity, af.EcosystemSpecific.Urgency}, ratings...)
		for _, s := range af.Severity {
			ratings = append(ratings, s.Score) // Ubuntu-type severities carry a rating
		}
	}
	for _, s := range a.Severity {
		ratings = append(ratings, s.Score)
	}
	for _, r := range ratings {
		if sev := ratingSeverity(r); sev != finding.SeverityUnknown {
			return sev
		}
	}
	return finding.SeverityUnknown
}
