# syntax=docker/dockerfile:1.7
ARG GO_VERSION=1.22.5
FROM golang:${GO_VERSION}-bookworm@sha256:1111111111111111111111111111111111111111111111111111111111111111 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /out/app ./cmd/app

FROM node:20.15.1-bookworm-slim@sha256:2222222222222222222222222222222222222222222222222222222222222222 AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY web/ ./
RUN npm run build

FROM debian:12.6-slim@sha256:3333333333333333333333333333333333333333333333333333333333333333 AS final
ENV GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305 \
    APP_PASSWORD_FILE=/run/secrets/app_password
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311 tzdata=2024a-0+deb12u1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system app && useradd --system --gid app --uid 10001 app
COPY --from=build /out/app /usr/local/bin/app
COPY --from=web --chown=app:app /web/dist /srv/www
LABEL org.opencontainers.image.source="https://github.com/acme/app" \
      org.opencontainers.image.version="1.2.3"
EXPOSE 8080
USER app
HEALTHCHECK --interval=30s CMD ["/usr/local/bin/app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/app"]
