# Require a maintainer: the final stage of a Dockerfile, or the image config,
# must carry a `maintainer` or `org.opencontainers.image.authors` label.
package kensa.examples.maintainer

maintainer_keys := {"maintainer", "org.opencontainers.image.authors"}

final_stage := s if {
	some s in input.dockerfile.stages
	s.final
}

# Labels set in the final stage (LABEL key=value, keys as written).
dockerfile_labels contains lower(kv.key) if {
	some ins in final_stage.instructions
	ins.cmd == "label"
	some kv in ins.key_values
}

deny contains {
	"id": "POL-MAINTAINER",
	"severity": "MEDIUM",
	"title": "No maintainer label",
	"message": sprintf("final stage (FROM %s) sets no maintainer label (want one of %v)", [final_stage.base.raw, sort(maintainer_keys)]),
	"fix": "LABEL org.opencontainers.image.authors=\"team@example.com\"",
	"location": {"path": input.dockerfile.path, "line": final_stage.from.start_line},
} if {
	not input.image # an image scan with --dockerfile checks the image's labels
	count(dockerfile_labels & maintainer_keys) == 0
}

deny contains {
	"id": "POL-MAINTAINER",
	"severity": "MEDIUM",
	"title": "No maintainer label",
	"message": sprintf("image config has no maintainer label (want one of %v)", [sort(maintainer_keys)]),
	"fix": "LABEL org.opencontainers.image.authors=\"team@example.com\"",
} if {
	input.image
	count({lower(k) | some k, _ in input.image.config.labels} & maintainer_keys) == 0
}
