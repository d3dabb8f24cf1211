# Deny packages under licenses the organisation does not accept.
package kensa.examples.licenses

denied := {"AGPL-1.0", "AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "SSPL-1.0", "BUSL-1.1"}

deny contains {
	"id": "POL-LICENSE",
	"kind": "license",
	"severity": "HIGH",
	"title": "Package under a denied license",
	"message": sprintf("%s %s (%s) is licensed %s", [pkg.name, pkg.version, pkg.type, lic]),
	"fix": sprintf("replace %s or get a license exception", [pkg.name]),
	"location": location(pkg),
} if {
	some pkg in input.packages
	some lic in pkg.licenses
	# "MIT OR AGPL-3.0" lets the user choose: only a license with no
	# alternative is denied.
	not contains(lic, " OR ")
	some part in split(replace(replace(lic, "(", ""), ")", ""), " AND ")
	trim_space(part) in denied
}

# The layer that added the package, when it came from an image.
location(pkg) := {"path": pkg.path, "layer_index": pkg.layer} if {
	pkg.layer >= 0
} else := {"path": pkg.path}
