# syntax=docker/dockerfile:1
# kensa's own image. A Go toolchain stage builds one static binary; the final
# stage starts empty (FROM scratch) and gets only that binary, the CA
# certificates and the passwd/group entries of the unprivileged user 65532 it
# runs as: no shell, no package manager, nothing in it to patch but kensa.
#
#   buildah bud --layers -t kensa .        (or: docker build -t kensa .)
#   docker run --rm --read-only -v "$PWD:/work:ro" kensa scan /work
#
# GO_IMAGE is the toolchain, Go's official image by default; pin it by digest
# for release builds (`kensa fix --write Dockerfile` resolves it). CI builds
# with a local toolchain image (scripts/build-test-images.sh, image "kensa")
# and scans the result with kensa itself.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Dependencies first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
RUN go build -trimpath -ldflags="-s -w -X github.com/kensa-sec/kensa/internal/cli.Version=${VERSION}" \
      -o /out/usr/local/bin/kensa ./cmd/kensa \
 && mkdir -p /out/etc /out/home/nonroot /out/tmp /out/var/cache/kensa \
 && echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >/out/etc/passwd \
 && echo 'nonroot:x:65532:' >/out/etc/group \
 && chmod 1777 /out/tmp

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="kensa" \
      org.opencontainers.image.description="Inspects container images and the Dockerfiles that build them" \
      org.opencontainers.image.source="https://github.com/kensa-sec/kensa" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build --chown=65532:65532 /out/tmp /tmp
COPY --from=build --chown=65532:65532 /out/home/nonroot /home/nonroot
# The cache (layer results, vulnerability database), owned by the user so a
# fresh named volume mounted on it is writable (deploy/compose.yaml).
COPY --from=build --chown=65532:65532 /out/var/cache/kensa /var/cache/kensa
COPY --from=build /out/usr/local/bin/kensa /usr/local/bin/kensa
ENV HOME=/home/nonroot KENSA_CACHE_DIR=/var/cache/kensa
USER 65532:65532
WORKDIR /home/nonroot
# A command-line tool: the orchestrator decides when it is done, not a probe.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/kensa"]
CMD ["--help"]
