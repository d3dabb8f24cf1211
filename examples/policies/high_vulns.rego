# Warn when an image carries more than max_high HIGH or CRITICAL
# vulnerabilities (after ignores and VEX).
package kensa.examples.high_vulns

max_high := 5

high := [f |
	some f in input.report.findings
	f.kind == "vuln"
	f.severity in {"HIGH", "CRITICAL"}
]

warn contains {
	"id": "POL-HIGH-VULNS",
	"severity": "MEDIUM",
	"title": "Too many HIGH vulnerabilities",
	"message": sprintf("%d HIGH or CRITICAL vulnerabilities (policy allows %d): %v", [count(high), max_high, ids]),
	"fix": "rebuild on a patched base image or upgrade the packages named",
} if {
	count(high) > max_high
	ids := sort({f.id | some f in high})
}
