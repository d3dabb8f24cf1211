package dockerfile

import (
	"strings"
	"testing"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// ruleCase is a Dockerfile snippet that must (pos) or must not (neg) fire a rule.
type ruleCase struct {
	pos, neg []string
}

var cases = map[string]ruleCase{
	"KS-DF-001": {
		pos: []string{
			"FROM debian:12\nRUN echo hi\n",
			"FROM debian:12\nUSER app\nUSER root\n",
			"FROM golang:1.22 AS b\nUSER 1000\nFROM debian:12\nCOPY --from=b /x /x\n",
			"FROM debian:12\nUSER 0:0\n",
			// scratch has no users, but the process runs as uid 0.
			"FROM scratch\nCOPY app /app\n",
		},
		neg: []string{
			"FROM debian:12\nUSER root\nRUN apt-get update\nUSER 1000\n",
			"FROM gcr.io/distroless/static:nonroot\nCOPY app /app\n",
			"FROM scratch\nCOPY app /app\nUSER 65534:65534\n",
			"FROM debian:12 AS base\nUSER app\nFROM base\nRUN true\n",
		},
	},
	"KS-DF-002": {
		pos: []string{
			"FROM debian\n",
			"FROM debian:latest\n",
			"ARG IMG=node\nFROM $IMG\n",
			"FROM ghcr.io/acme/app:latest AS x\nFROM debian:12\n",
		},
		neg: []string{
			"FROM debian:12\n",
			"FROM scratch\n",
			"FROM debian:12 AS base\nFROM base\n",
			"FROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
			"ARG TAG\nFROM node:${TAG}\n",
		},
	},
	"KS-DF-003": {
		pos: []string{"FROM debian:12\n", "FROM localhost:5000/app:1\n", "FROM debian:12@sha256:00 AS a\nFROM alpine:3.20\n"},
		neg: []string{"FROM debian:12@sha256:0000\n", "FROM scratch\n", "FROM alpine:3.20@sha256:11 AS a\nFROM a\n"},
	},
	"KS-DF-004": {
		pos: []string{"FROM quay.io/evil/app:1\n", "FROM debian:12\n", "FROM ghcr.io/other/x:1\n"},
		neg: []string{"FROM ghcr.io/acme/app:1\n", "FROM scratch\n", "FROM registry.acme.internal/base:2 AS b\nFROM b\n"},
	},
	"KS-DF-005": {
		pos: []string{"FROM debian:12\nADD app.py /app/\n", "FROM debian:12\nADD . /src\n", "FROM debian:12\nADD https://example.com/tool /usr/bin/tool\n"},
		neg: []string{"FROM debian:12\nCOPY app.py /app/\n", "FROM debian:12\nADD rootfs.tar.gz /\n", "FROM debian:12\nADD --checksum=sha256:abc https://example.com/tool /usr/bin/tool\n"},
	},
	"KS-DF-006": {
		pos: []string{
			"FROM debian:12\nRUN apt-get update && apt-get install -y curl\n",
			"FROM debian:12\nRUN set -e; \\\n  if true; then apt-get install -y git; fi\n",
			"FROM debian:12\nRUN DEBIAN_FRONTEND=noninteractive apt install -y vim\n",
			// A heredoc script fed to bash is the script.
			"FROM debian:12\nRUN <<EOT bash\n    set -ex\n    apt-get update\n    apt-get install -y git\nEOT\n",
			"FROM debian:12\nRUN <<EOT /bin/sh -e\napt-get install -y git\nEOT\n",
		},
		neg: []string{
			"FROM debian:12\nRUN apt-get install -y --no-install-recommends curl\n",
			"FROM debian:12\nRUN echo 'APT::Install-Recommends \"false\";' > /etc/apt/apt.conf.d/00norec\nRUN apt-get install -y curl\n",
			"FROM debian:12\nRUN echo apt-get install -y curl is bad\n",
			"FROM debian:12\nRUN apt-get install -y -o APT::Install-Recommends=false curl\n",
			// A heredoc fed to python is not shell.
			"FROM debian:12\nRUN <<EOT python3\nprint('apt-get install -y git')\nEOT\n",
		},
	},
	"KS-DF-007": {
		pos: []string{
			"FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n",
			"FROM debian:12\nRUN apt-get update && apt-get install -y curl && apt-get clean\n",
			"FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y git\nEOF\n",
		},
		neg: []string{
			"FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
			"FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y curl\n",
			"FROM debian:12 AS build\nRUN apt-get update && apt-get install -y gcc\nFROM scratch\nCOPY --from=build /x /x\n",
			"FROM debian:13\nRUN apt-get update; apt-get install -y curl; apt-get dist-clean\n",
		},
	},
	"KS-DF-008": {
		pos: []string{"FROM alpine:3.20\nRUN apk add curl\n", "FROM alpine:3.20\nRUN apk update && apk add --virtual .b gcc\n", "FROM alpine:3.20\nRUN sudo apk add -U git\n"},
		neg: []string{"FROM alpine:3.20\nRUN apk add --no-cache curl\n", "FROM alpine:3.20\nRUN apk add curl && rm -rf /var/cache/apk/*\n", "FROM alpine:3.20\nRUN --mount=type=cache,target=/var/cache/apk apk add curl\n"},
	},
	"KS-DF-009": {
		pos: []string{"FROM python:3.12\nRUN pip install flask\n", "FROM python:3.12\nRUN python3 -m pip install -r requirements.txt\n", "FROM node:20\nRUN npm ci\n", "FROM node:20\nRUN yarn install --frozen-lockfile\n"},
		neg: []string{"FROM python:3.12\nRUN pip install --no-cache-dir flask\n", "FROM python:3.12\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n", "FROM node:20\nRUN npm ci && npm cache clean --force\n", "FROM python:3.12\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\n"},
	},
	"KS-DF-010": {
		pos: []string{
			"FROM debian:12\nENV DB_PASSWORD=hunter2hunter2\n",
			"FROM debian:12\nARG GITHUB_TOKEN=ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
			"FROM debian:12\nENV AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
			"FROM debian:12\nLABEL build.url=\"https://deploy:s3cr3tpass@git.example.com/repo\"\n",
			"FROM debian:12\nENV KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
			// A LABEL is in the image config as plainly as an ENV.
			"FROM debian:12\nLABEL com.example.api-key=\"k3y-9f8e7d6c5b4a3928\"\n",
			"FROM debian:12\nLABEL db_password=hunter2hunter2\n",
			"FROM debian:12\nLABEL maintainer=ops DEPLOY_TOKEN=dt-4f9a8b7c6d5e\n",
		},
		neg: []string{
			"FROM debian:12\nARG PASSWORD_FILE=/run/secrets/db\n",
			"FROM debian:12\nENV GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305\n",
			"FROM debian:12\nENV DB_PASSWORD=\n",
			"FROM debian:12\nARG NPM_TOKEN\nENV NPM_TOKEN=${NPM_TOKEN}\n",
			"FROM debian:12\nENV API_KEY=<your-api-key>\n",
			"FROM debian:12\nENV OAUTH_TOKEN_URL=https://auth.example.com/token\n",
			"FROM debian:12\nENV PYTHON_SHA256=639e43243c620a308f968213df9e00f2f8f62332f7adbaa7a7eeb9783057c690\n",
			"FROM debian:12\nLABEL org.opencontainers.image.description=\"token rotation service\"\n",
			"FROM debian:12\nLABEL secret.store.url=https://vault.example.com\n",
			"FROM debian:12\nLABEL auth_token=<set-at-runtime>\n",
		},
	},
	"KS-DF-011": {
		pos: []string{"FROM debian:12\nCOPY .env /app/.env\n", "FROM debian:12\nCOPY id_rsa /root/.ssh/id_rsa\n", "FROM debian:12\nADD certs/server.key /etc/ssl/\n", "FROM node:20\nCOPY .npmrc package.json ./\n"},
		neg: []string{"FROM debian:12\nCOPY .env.example /app/.env\n", "FROM debian:12 AS b\nRUN true\nFROM debian:12\nCOPY --from=b /root/.ssh/id_rsa.pub /x\n", "FROM debian:12\nCOPY app.py keys.go /app/\n"},
	},
	"KS-DF-012": {
		pos: []string{
			"FROM debian:12\nCOPY secret.txt /tmp/secret.txt\nRUN use /tmp/secret.txt && rm /tmp/secret.txt\n",
			"FROM debian:12\nWORKDIR /build\nCOPY installer.sh .\nRUN ./installer.sh\nRUN rm -f installer.sh\n",
			"FROM debian:12\nADD https://example.com/x.tar.gz /tmp/\nRUN tar xzf /tmp/x.tar.gz && rm -rf /tmp/*\n",
		},
		neg: []string{
			"FROM debian:12\nCOPY app /app\nRUN rm -rf /tmp/cache\n",
			"FROM debian:12 AS b\nCOPY s.txt /tmp/s.txt\nRUN rm /tmp/s.txt\nFROM alpine:3.20\nCOPY --from=b /out /out\n",
			"FROM debian:12\nRUN --mount=type=bind,source=s.txt,target=/tmp/s.txt use /tmp/s.txt\nRUN rm -f /tmp/other\n",
		},
	},
	"KS-DF-013": {
		pos: []string{
			"FROM debian:12\nRUN curl -fsSL https://get.example.com | sh\n",
			"FROM debian:12\nRUN wget -qO- https://x.example/install.sh | sudo bash -s -- --yes\n",
			"FROM debian:12\nRUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal\n",
			"FROM debian:12\nRUN curl -sL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs\n",
			"FROM debian:12\nRUN sh -c \"$(curl -fsSL https://x.example/i.sh)\"\n",
			"FROM debian:12\nRUN set -e; \\\n  if [ -n \"$X\" ]; then curl -s https://x | bash; fi\n",
		},
		neg: []string{
			"FROM debian:12\nRUN curl -fsSLo i.sh https://x && echo 'abc  i.sh' | sha256sum -c - && sh i.sh\n",
			"FROM debian:12\nRUN curl -fsSL https://x/a.tgz | tar xz\n",
			"FROM debian:12\nRUN echo 'curl x | sh' > /docs.txt\n",
			"FROM debian:12\nRUN curl -fsSL https://x/key.gpg | gpg --dearmor -o /usr/share/keyrings/x.gpg\n",
			"FROM debian:12\nRUN curl -fsSL https://x/s.sh | tee /tmp/s.sh > /dev/null && sh ./local.sh\n",
		},
	},
	"KS-DF-014": {
		pos: []string{"FROM debian:12\nRUN sudo apt-get update\n", "FROM debian:12\nRUN true && sudo -u app make\n", "FROM debian:12\nRUN [\"sudo\", \"ls\"]\n"},
		neg: []string{"FROM debian:12\nRUN apt-get install -y --no-install-recommends sudo\n", "FROM debian:12\nRUN echo sudo\n", "FROM debian:12\nRUN chmod 440 /etc/sudoers.d/app\n"},
	},
	"KS-DF-015": {
		pos: []string{"FROM debian:12\n", "FROM debian:12 AS b\nHEALTHCHECK CMD true\nFROM alpine:3.20\n", "FROM node:20\nCMD [\"node\"]\n"},
		neg: []string{"FROM debian:12\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n", "FROM debian:12\nHEALTHCHECK NONE\n", "FROM debian:12 AS base\nHEALTHCHECK CMD true\nFROM base\n"},
	},
	"KS-DF-016": {
		pos: []string{"FROM debian:12\n", "FROM debian:12\nLABEL maintainer=me\n", "FROM debian:12 AS b\nLABEL org.opencontainers.image.source=x\nFROM alpine:3.20\n"},
		neg: []string{"FROM debian:12\nLABEL org.opencontainers.image.source=https://github.com/acme/app\n", "FROM debian:12\nLABEL \"org.opencontainers.image.version\"=\"1.0\"\n", "FROM debian:12 AS base\nLABEL org.opencontainers.image.title=x\nFROM base\n"},
	},
	"KS-DF-017": {
		pos: []string{"FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n", "FROM python:3.12\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n", "FROM golang:1.22\nCOPY . .\nRUN go mod download && go build\n"},
		neg: []string{"FROM node:20\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n", "FROM golang:1.22\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go build\n", "FROM node:20 AS b\nCOPY . .\nFROM node:20\nRUN npm ci\n"},
	},
	"KS-DF-018": {
		pos: []string{"FROM debian:12\nRUN apt-get install -y build-essential\n", "FROM alpine:3.20\nRUN apk add --no-cache gcc musl-dev\n", "FROM node:20\nRUN npm ci\n"},
		neg: []string{
			"FROM debian:12 AS b\nRUN apt-get install -y gcc\nFROM debian:12\nCOPY --from=b /x /x\n",
			"FROM alpine:3.20\nRUN apk add --no-cache --virtual .build-deps gcc && make && apk del .build-deps\n",
			"FROM debian:12\nRUN apt-get install -y gcc && make && apt-get purge -y --auto-remove gcc\n",
			"FROM node:20\nRUN npm ci --omit=dev\n",
		},
	},
	"KS-DF-019": {
		pos: []string{"FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n", "FROM debian:12\nRUN apt update -q\n", "FROM debian:12\nRUN set -x && apt-get -qq update && echo done\n"},
		neg: []string{"FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", "FROM debian:12\nRUN apt-get update && apt-get upgrade -y\n", "FROM debian:12\nRUN echo apt-get update\n"},
	},
	"KS-DF-020": {
		pos: []string{"FROM debian:12\nRUN apt-get install -y curl\n", "FROM alpine:3.20\nRUN apk add --no-cache git=2.45.2-r0 curl\n", "FROM fedora:40\nRUN dnf install -y httpd\n"},
		neg: []string{"FROM debian:12\nRUN apt-get install -y curl=8.5.0-2\n", "FROM alpine:3.20\nRUN apk add --no-cache curl~8.9\n", "FROM fedora:40\nRUN dnf install -y httpd-2.4.62\n", "FROM debian:12\nRUN apt-get install -y ./local.deb\n"},
	},
	"KS-DF-021": {
		pos: []string{"FROM debian:12\nEXPOSE 22\n", "FROM debian:12\nRUN apt-get install -y openssh-server\n", "FROM alpine:3.20\nRUN apk add --no-cache openssh\n", "FROM debian:12\nEXPOSE 80 22/tcp\n"},
		neg: []string{"FROM debian:12\nEXPOSE 8022\n", "FROM debian:12\nRUN apt-get install -y openssh-client\n", "FROM alpine:3.20\nRUN apk add --no-cache openssh-client\n"},
	},
	"KS-DF-022": {
		pos: []string{"FROM debian:12\nRUN chmod 777 /app\n", "FROM debian:12\nRUN chmod -R a+w /data\n", "FROM debian:12\nCOPY --chmod=0666 cfg /etc/cfg\n", "FROM debian:12\nRUN chmod o+rwx /srv\n"},
		neg: []string{"FROM debian:12\nRUN chmod 1777 /tmp\n", "FROM debian:12\nRUN chmod 755 /app && chmod u+w /x\n", "FROM debian:12\nRUN chmod +x /entrypoint.sh\n", "FROM debian:12\nRUN chmod a+rwxt /scratch\n"},
	},
	"KS-DF-023": {
		pos: []string{"FROM debian:12\nWORKDIR app\n", "FROM debian:12\nRUN cd /src && make\n", "FROM debian:12\nWORKDIR /app\nWORKDIR sub/dir\n", "FROM debian:12\nRUN cd build; cmake .. && make\n"},
		neg: []string{"FROM debian:12\nWORKDIR /app\n", "FROM debian:12\nRUN (cd /src && make)\n",
			// cd into a tree the same script unpacked: WORKDIR cannot replace it.
			"FROM debian:12\nRUN mkdir -p /usr/src/py && tar -xf py.tgz -C /usr/src/py && cd /usr/src/py && ./configure && make && cd / && rm -rf /usr/src/py\n", "FROM debian:12\nARG HOME=/home/app\nWORKDIR $HOME\n", "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nWORKDIR C:\\\\app\n"},
	},
	"KS-DF-024": {
		pos: []string{"FROM debian:12\nCMD python app.py\n", "FROM debian:12\nENTRYPOINT /entrypoint.sh\n", "FROM debian:12 AS base\nCMD node server.js\nFROM base\n"},
		neg: []string{"FROM debian:12\nCMD [\"python\", \"app.py\"]\n", "FROM debian:12\nENTRYPOINT [\"/entrypoint.sh\"]\n", "FROM debian:12 AS b\nCMD make\nFROM debian:12\nCMD [\"app\"]\n"},
	},
	"KS-DF-025": {
		pos: []string{"FROM centos:7\nRUN yum install -y httpd\n", "FROM fedora:40\nRUN dnf install -y git\n", "FROM opensuse/leap:15\nRUN zypper install -y curl\n"},
		neg: []string{"FROM centos:7\nRUN yum install -y httpd && yum clean all\n", "FROM fedora:40\nRUN dnf install -y git && rm -rf /var/cache/dnf\n", "FROM opensuse/leap:15\nRUN zypper install -y curl && zypper clean -a\n"},
	},
	"KS-DF-026": {
		pos: []string{
			"FROM golang:1.22 AS build\nRUN go build -o /app\nFROM debian:12\nCOPY --from=build /app /app\n",
			"FROM golang:1.22 AS build\nRUN go build -o /app\nFROM ubuntu:24.04\nCOPY --from=build /app /app\nCMD [\"/app\"]\n",
			"FROM rust:1.80 AS b\nRUN cargo build\nFROM debian:12-slim\nCOPY --from=b /t/app /app\n",
		},
		neg: []string{
			"FROM golang:1.22 AS build\nRUN go build -o /app\nFROM gcr.io/distroless/static\nCOPY --from=build /app /app\n",
			"FROM golang:1.22 AS build\nRUN go build -o /app\nFROM debian:12\nRUN apt-get install -y --no-install-recommends ca-certificates\nCOPY --from=build /app /app\n",
			"FROM node:20 AS build\nRUN npm run build\nFROM debian:12\nCOPY --from=build /out /out\n",
		},
	},
	"KS-DF-027": {
		pos: []string{
			"FROM debian:12\nRUN useradd app\nCOPY . /app\nRUN chown -R app /app\nUSER app\n",
			"FROM debian:12\nRUN useradd app\nUSER app\nCOPY seed /var/lib/app/data\n",
			"FROM debian:12\nRUN useradd app\nWORKDIR /srv\nCOPY uploads/ ./uploads/\nUSER app\n",
		},
		neg: []string{
			"FROM debian:12\nRUN useradd app\nCOPY --chown=app:app . /app\nUSER app\n",
			"FROM debian:12\nCOPY . /app\nRUN chown -R www-data /app\n",
			"FROM debian:12\nRUN useradd app\nCOPY app /usr/local/bin/app\nUSER app\n",
		},
	},
	"KS-DF-028": {
		pos: []string{"FROM debian:12\nUSER app\n", "FROM alpine:3.20\nUSER appuser:appgroup\n", "FROM python:3.12\nRUN useradd other\nUSER web\n"},
		neg: []string{"FROM debian:12\nRUN useradd --system app\nUSER app\n", "FROM node:20\nUSER node\n", "FROM alpine:3.20\nRUN adduser -S -u 1000 app\nUSER app\n", "FROM acme/base:1\nUSER svc\n", "FROM debian:12\nUSER 10001\n"},
	},
	"KS-DF-029": {
		pos: []string{"FROM debian:12\nRUN apt-get update && apt-get upgrade -y\n", "FROM alpine:3.20\nRUN apk upgrade --no-cache\n", "FROM fedora:40\nRUN dnf update -y\n"},
		neg: []string{"FROM alpine:3.20\nRUN apk add --no-cache --upgrade curl\n", "FROM fedora:40\nRUN dnf update -y openssl\n", "FROM debian:12\nRUN apt-get install -y --only-upgrade openssl\n"},
	},
	"KS-DF-030": {
		pos: []string{
			"FROM node:20\nARG NPM_TOKEN\nRUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc && npm ci\n",
			"FROM debian:12\nARG DB_PASSWORD\nRUN setup --password $DB_PASSWORD\n",
			"ARG GITHUB_TOKEN\nFROM debian:12\nARG GITHUB_TOKEN\nRUN git clone https://x:${GITHUB_TOKEN}@github.com/acme/r\n",
		},
		neg: []string{
			"FROM node:20\nARG NPM_TOKEN\nRUN npm ci\n",
			"FROM node:20\nRUN --mount=type=secret,id=npm,env=NPM_TOKEN npm ci\n",
			"FROM debian:12\nARG VERSION\nRUN echo $VERSION\n",
			"FROM debian:12\nARG PASSWORD_FILE\nRUN cat $PASSWORD_FILE\n",
		},
	},
}

func lintString(t *testing.T, src string, opts Options) []finding.Finding {
	t.Helper()
	f, err := df.Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return Lint(f, opts)
}

func optsFor(id string) Options {
	if id == "KS-DF-004" {
		return Options{TrustedRegistries: []string{"ghcr.io/acme", "registry.acme.internal"}}
	}
	return Options{}
}

func TestRules(t *testing.T) {
	for _, ch := range Checks() {
		tc, ok := cases[ch.ID]
		if !ok {
			t.Errorf("%s: no test cases", ch.ID)
			continue
		}
		if len(tc.pos) < 3 || len(tc.neg) < 3 {
			t.Errorf("%s: want at least 3 positive and 3 negative cases, have %d/%d", ch.ID, len(tc.pos), len(tc.neg))
		}
		for i, src := range tc.pos {
			fs := only(lintString(t, src, optsFor(ch.ID)), ch.ID)
			if len(fs) == 0 {
				t.Errorf("%s positive #%d: no finding for\n%s", ch.ID, i, src)
				continue
			}
			r := rules.MustLookup(ch.ID)
			for _, f := range fs {
				if f.Severity != r.Severity || f.Title != r.Title || f.Message == "" || f.Fix == "" || f.Location.Path != "Dockerfile" || f.Location.Line < 1 || f.Location.EndLine < f.Location.Line {
					t.Errorf("%s positive #%d: malformed finding %+v", ch.ID, i, f)
				}
			}
		}
		for i, src := range tc.neg {
			if fs := only(lintString(t, src, optsFor(ch.ID)), ch.ID); len(fs) != 0 {
				t.Errorf("%s negative #%d: unexpected %q for\n%s", ch.ID, i, fs[0].Message, src)
			}
		}
	}
}

func only(fs []finding.Finding, id string) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// TestTrustedRegistriesOff: KS-DF-004 is silent without a configured list.
func TestTrustedRegistriesOff(t *testing.T) {
	if fs := only(lintString(t, "FROM quay.io/evil/app:1\n", Options{}), "KS-DF-004"); len(fs) != 0 {
		t.Fatalf("KS-DF-004 fired without trusted_registries: %v", fs)
	}
}

func TestMessagesNameWhatWasSeen(t *testing.T) {
	for _, tc := range []struct{ src, id, want string }{
		{"FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", "KS-DF-006", "apt-get install -y curl"},
		{"FROM debian:12\nENV DB_PASSWORD=hunter2hunter2\n", "KS-DF-010", "DB_PASSWORD"},
		{"FROM debian:12\nCOPY id_rsa /root/.ssh/\n", "KS-DF-011", "id_rsa"},
		{"FROM debian:latest\n", "KS-DF-002", "debian:latest"},
		{"FROM debian:12\nRUN curl -sL https://x.example/i | bash\n", "KS-DF-013", "curl -sL https://x.example/i"},
	} {
		fs := only(lintString(t, tc.src, Options{}), tc.id)
		if len(fs) == 0 || !strings.Contains(fs[0].Message, tc.want) {
			t.Errorf("%s: message %v does not name %q", tc.id, fs, tc.want)
		}
	}
	// Secret values are never printed in full.
	fs := only(lintString(t, "FROM debian:12\nENV DB_PASSWORD=hunter2hunter2\n", Options{}), "KS-DF-010")
	if len(fs) == 0 || strings.Contains(fs[0].Message, "hunter2hunter2") {
		t.Errorf("KS-DF-010 message leaks the value: %v", fs)
	}
}

func TestLines(t *testing.T) {
	src := "FROM debian:12\n\nRUN apt-get update \\\n  # comment inside\n  && apt-get install -y curl\nUSER 1000\n"
	fs := only(lintString(t, src, Options{}), "KS-DF-006")
	if len(fs) != 1 || fs[0].Location.Line != 3 || fs[0].Location.EndLine != 5 {
		t.Fatalf("want one KS-DF-006 at lines 3-5, got %+v", fs)
	}
}

func TestInlineIgnore(t *testing.T) {
	src := "FROM debian:12\n# kensa ignore=KS-DF-006,KS-DF-020\nRUN apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nRUN apt-get install -y git && rm -rf /var/lib/apt/lists/*\n"
	fs := only(lintString(t, src, Options{}), "KS-DF-006")
	if len(fs) != 2 {
		t.Fatalf("want 2 KS-DF-006 findings, got %d", len(fs))
	}
	if s := fs[0].Suppressed; s == nil || s.By != "inline" || s.Source != "Dockerfile:2" {
		t.Errorf("line 3 finding not suppressed inline: %+v", fs[0])
	}
	if fs[1].Suppressed != nil {
		t.Errorf("line 4 finding suppressed but has no ignore comment: %+v", fs[1])
	}
	// Other rules on the ignored line stay active.
	for _, f := range lintString(t, src, Options{}) {
		if f.Location.Line == 3 && f.ID == "KS-DF-007" {
			t.Errorf("unexpected KS-DF-007: lists are removed")
		}
	}
}

func TestDisabled(t *testing.T) {
	fs := lintString(t, "FROM debian\n", Options{Disabled: []string{"KS-DF-002"}})
	if len(only(fs, "KS-DF-002")) != 0 {
		t.Fatalf("disabled rule ran: %v", fs)
	}
	if len(only(fs, "KS-DF-001")) == 0 {
		t.Fatalf("other rules must still run")
	}
}

func TestScanValueHook(t *testing.T) {
	called := 0
	opts := Options{ScanValue: func(v string) (string, bool) {
		called++
		return "hook found it", strings.Contains(v, "SPECIAL")
	}}
	fs := only(lintString(t, "FROM debian:12\nLABEL note=SPECIALVALUE\n", opts), "KS-DF-010")
	if called == 0 || len(fs) != 1 || !strings.Contains(fs[0].Message, "hook found it") {
		t.Fatalf("ScanValue hook not used: called=%d findings=%v", called, fs)
	}
}

// TestGoodDockerfile: a Dockerfile that follows every practice yields no findings.
func TestGoodDockerfile(t *testing.T) {
	f, err := df.ParseFile("testdata/good.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range Lint(f, Options{TrustedRegistries: []string{"docker.io/library"}}) {
		t.Errorf("unexpected %s at line %d: %s", fd.ID, fd.Location.Line, fd.Message)
	}
}
