package rules

import "github.com/kensa-sec/kensa/internal/finding"

// hostileRules (KS-HI-*) are signals of an image that is malicious or was
// tampered with: layer entries that escape the root, executables parked in
// world-writable folders, setuid files the image's own layers add, known
// miner and backdoor files, entrypoints that fetch and run code, and
// history that does not match the layers. Checks in internal/rules/image
// (hostile.go).
var hostileRules = []Rule{
	{"KS-HI-001", sevH, finding.KindMisconfig, "Layer entry escapes the image root",
		"A layer tar entry whose name is absolute or climbs above the root with `..`, a hard link or relative symlink whose target does, or an entry written through a symlink the same layer created (`etc -> /host/etc`, then `etc/passwd`), is clamped by container engines but written outside the target folder by naive unpackers (`tar -P`, hand-written extractors, some scanners). No build tool produces such entries: the image is broken or built to attack whoever unpacks it.",
		"Do not run or unpack the image; rebuild it from a trusted Dockerfile with a standard builder (docker build, buildah, kaniko) and find out where the layer came from."},
	{"KS-HI-002", sevM, finding.KindMisconfig, "Executable in a world-writable folder",
		"/tmp, /var/tmp and /dev/shm are writable by every process; droppers park their payloads there because any user can write and run them. A legitimate image ships its programs under /usr, /opt or /app.",
		"Remove the file from the image, or move it to a root-owned folder such as /usr/local/bin; temporary build files belong in the RUN step that uses them."},
	{"KS-HI-003", sevH, finding.KindMisconfig, "setuid/setgid file added by the image's own layers",
		"A setuid or setgid file that the base image did not have, added by the image's own layers, is a privilege-escalation path someone chose to add: a backdoor, or a package (sudo, a custom tool) whose bits the app rarely needs. The image's own layers are those after the base image's last CMD/ENTRYPOINT history entry.",
		"Remove the bit (`RUN chmod a-s <path>`) or the package that installs it; if the app needs to change users, prefer capabilities granted at run time."},
	{"KS-HI-004", sevC, finding.KindMisconfig, "Known crypto-miner, backdoor or malware test file",
		"A file whose name is that of a well-known crypto-miner or cryptojacking payload (XMRig, Kinsing's kdevtmpfsi...) or whose SHA-256 is on kensa's list (internal/rules/image/knownbad.txt, each entry with its source).",
		"Treat the image as compromised: do not run it, find which build step or base image added the file, and rebuild from trusted sources."},
	{"KS-HI-005", sevH, finding.KindMisconfig, "Entrypoint downloads and runs code",
		"An ENTRYPOINT or CMD that fetches a script or binary and runs it (`curl ... | sh`, `wget -O- ... | bash`, `sh -c \"$(curl ...)\"`, `python -c` with urllib) runs whatever the server returns at every container start: the image you scanned is not the code that runs.",
		"Download and verify the code at build time (checksum or signature) and COPY it into the image; the entrypoint should run only what the image contains."},
	{"KS-HI-006", sevM, finding.KindMisconfig, "Image history does not match its layers",
		"Each history entry that is not marked empty_layer should correspond to one layer, and instructions that never change the filesystem (ENV, LABEL, CMD...) should be marked empty. A mismatch means layers were added, removed or swapped after the build, or the history was rewritten to hide a step; the attribution of findings to steps is then unreliable.",
		"Rebuild the image with a standard builder and compare its layers with this one; do not trust the history of the image as given."},
}
