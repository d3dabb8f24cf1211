# Images from Docker Hub must be pinned by digest: a tag can be moved to
# other content at any time.
package kensa.examples.docker_hub_digest

deny contains {
	"id": "POL-DOCKERHUB-DIGEST",
	"severity": "HIGH",
	"title": "Docker Hub base image without digest",
	"message": sprintf("FROM %s pulls from docker.io by tag, not by digest", [stage.base.resolved]),
	"fix": sprintf("pin it: FROM %s@sha256:<digest>", [stage.base.resolved]),
	"location": {"path": input.dockerfile.path, "line": stage.from.start_line},
} if {
	some stage in input.dockerfile.stages
	stage.base_stage == -1 # builds on an image, not on an earlier stage
	not stage.base.scratch
	not stage.base.unresolved
	stage.base.registry == "docker.io"
	stage.base.digest == ""
}
