#!/usr/bin/env bash
# Secrets side by side: kensa (--rootfs, secret scanner) vs `trivy fs
# --scanners secret` on (a) a generated tree with planted real-format
# credentials of every type either tool knows, each in a text file at a
# deep path, in a JSON config and inside a 64 KiB binary; (b) trees of real
# code with nothing planted (default /usr/share and the Go module cache's
# golang.org folder): findings per GB and time. Not run by .ci/run.
# Needs trivy on PATH. Usage: bench/peers/secrets-trivy.sh [CLEAN_DIR...]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/kensa" ./cmd/kensa)
python3 - "$work/planted" <<'PY'
import base64, json, os, random, string, sys, uuid
random.seed(20261202)
root = sys.argv[1]
A = string.ascii_letters + string.digits
U = string.ascii_uppercase + string.digits
H = "0123456789abcdef"
def r(cs, n): return "".join(random.choice(cs) for _ in range(n))
def b64(n): return r(A + "+/", n)
def url(n): return r(A + "_-", n)
pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(b64(64) for _ in range(12)) + "\n-----END RSA PRIVATE KEY-----\n"
jwt = ".".join(base64.urlsafe_b64encode(json.dumps(x).encode()).decode().rstrip("=") for x in ({"alg": "HS256", "typ": "JWT"}, {"sub": "1234567890", "name": "ci", "iat": 1700000000})) + "." + url(43)
types = {
    "aws-access-key-id": "AWS_ACCESS_KEY_ID=AKIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
    "aws-secret-access-key": "aws_secret_access_key = " + b64(40),
    "github-pat": "GITHUB_TOKEN=ghp_" + r(A, 36),
    "github-fine-grained": "token: github_pat_" + r(A, 22) + "_" + r(A, 59),
    "github-oauth": "gho_" + r(A, 36),
    "gitlab-pat": "GITLAB_TOKEN=glpat-" + url(20),
    "slack-bot": "SLACK_BOT_TOKEN=xoxb-" + r(string.digits, 12) + "-" + r(string.digits, 12) + "-" + r(A, 24),
    "slack-webhook": "https://hooks.slack.com/services/T" + r(U, 8) + "/B" + r(U, 8) + "/" + r(A, 24),
    "stripe": "STRIPE_KEY=sk_live_" + r(A, 24),
    "gcp-api-key": "key=AIza" + url(35),
    "private-key": pem,
    "npm": "//registry.npmjs.org/:_authToken=npm_" + r(A, 36),
    "pypi": "password = pypi-AgEIcHlwaS5vcmc" + url(70),
    "sendgrid": "SENDGRID_API_KEY=SG." + url(22) + "." + url(43),
    "twilio": "TWILIO_API_KEY=SK" + r(H, 32),
    "shopify": "shpat_" + r(H, 32),
    "huggingface": "HF_TOKEN=hf_" + r(string.ascii_letters, 34),
    "digitalocean": "DIGITALOCEAN_TOKEN=dop_v1_" + r(H, 64),
    "databricks": "DATABRICKS_TOKEN=dapi" + r(H, 32),
    "openai": "OPENAI_API_KEY=sk-" + r(A, 20) + "T3BlbkFJ" + r(A, 20),
    "anthropic": "ANTHROPIC_API_KEY=sk-ant-api03-" + url(93) + "AA",
    "mailgun": "MAILGUN_API_KEY=key-" + r(H, 32),
    "heroku": "HEROKU_API_KEY=" + str(uuid.UUID(int=random.getrandbits(128))),
    "jwt": "Authorization: Bearer " + jwt,
    "docker-config": json.dumps({"auths": {"registry.example.com": {"auth": base64.b64encode(b"ci:" + r(A, 20).encode()).decode()}}}),
    "vault": "VAULT_TOKEN=hvs." + r(A, 90),
    "azure-storage": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + b64(86) + "==;EndpointSuffix=core.windows.net",
    "basic-auth-url": "DATABASE_URL=postgres://app:" + r(A, 16) + "@db.example.com:5432/app",
    "age": "AGE-SECRET-KEY-1" + r("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    "linear": "LINEAR_API_KEY=lin_api_" + r(A, 40),
}
planted = []
for t, v in types.items():
    deep = os.path.join(root, "deep", *list("abcdefgh"), t + ".env")
    cfg = os.path.join(root, "conf", t + ".json")
    binp = os.path.join(root, "bin", t + ".bin")
    for p in (deep, cfg, binp): os.makedirs(os.path.dirname(p), exist_ok=True)
    open(deep, "w").write(v + "\n")
    json.dump({"service": t, "credential": v}, open(cfg, "w"))
    blob = bytearray(random.getrandbits(8) for _ in range(65536))
    blob[30000:30000 + len(v)] = v.encode()
    open(binp, "wb").write(bytes(blob)); os.chmod(binp, 0o755)
    planted += [(t, "text", deep), (t, "json", cfg), (t, "binary", binp)]
json.dump(planted, open(os.path.join(os.path.dirname(root), "planted.json"), "w"))
PY
scan_kensa() { /usr/bin/time -f "%e %M" -o "$2.time" "$work/kensa" scan -q --no-cache --scanners secret --format json -o "$2" --rootfs "$1" || true; }
scan_trivy() { TRIVY_CACHE_DIR="$work/tc" /usr/bin/time -f "%e %M" -o "$2.time" trivy fs -q --scanners secret --format json -o "$2" "$1" || true; }
scan_kensa "$work/planted" "$work/k.json"
scan_trivy "$work/planted" "$work/t.json"
clean=("$@")
[ ${#clean[@]} -gt 0 ] || clean=(/usr/share "$(go env GOMODCACHE)/golang.org")
i=0
for d in "${clean[@]}"; do
  i=$((i+1)); du -sb "$d" | cut -f1 >"$work/c$i.size"; echo "$d" >"$work/c$i.name"
  scan_kensa "$d" "$work/ck$i.json"; scan_trivy "$d" "$work/ct$i.json"
done
python3 - "$work" "$i" <<'PY'
import json, os, sys, collections
w, n = sys.argv[1], int(sys.argv[2])
planted = json.load(open(f"{w}/planted.json"))
root = f"{w}/planted"
def kfiles(p):
    out = collections.Counter()
    for f in json.load(open(p)).get("findings", []):
        out["/" + f["location"]["path"].lstrip("/")] += 1
    return out
def tfiles(p, base):
    out = collections.Counter()
    for r in json.load(open(p)).get("Results") or []:
        for s in r.get("Secrets") or []: out["/" + r["Target"].lstrip("/")] += 1
    return out
k, t = kfiles(f"{w}/k.json"), tfiles(f"{w}/t.json", root)
rel = lambda p: "/" + os.path.relpath(p, root)
rows = collections.defaultdict(dict)
for typ, place, p in planted:
    rows[typ][place] = ("K" if k[rel(p)] else "-") + ("T" if t[rel(p)] or t[p] else "-")
print("| type | text (deep path) | JSON | inside a binary |")
print("|---|---|---|---|")
for typ in rows: print(f"| {typ} | " + " | ".join(rows[typ][p] for p in ("text", "json", "binary")) + " |")
for tool, key in (("kensa", 0), ("trivy", 1)):
    hit = {pl: sum(1 for typ in rows if rows[typ][pl][key] != "-") for pl in ("text", "json", "binary")}
    print(f"{tool}: recall text {hit['text']}/{len(rows)}, json {hit['json']}/{len(rows)}, binary {hit['binary']}/{len(rows)}; time/RSS {open(f'{w}/{tool[0]}.json.time').read().split()}")
print("\n| clean tree | size | kensa findings | per GB | time s / RSS KB | trivy findings | per GB | time s / RSS KB |")
print("|---|---|---|---|---|---|---|---|")
for i in range(1, n + 1):
    size = int(open(f"{w}/c{i}.size").read()) / 1e9
    kf = sum(kfiles(f"{w}/ck{i}.json").values()); tf = sum(tfiles(f"{w}/ct{i}.json", "").values())
    kt = open(f"{w}/ck{i}.json.time").read().split(); tt = open(f"{w}/ct{i}.json.time").read().split()
    print(f"| {open(f'{w}/c{i}.name').read().strip()} | {size:.2f} GB | {kf} | {kf/size:.1f} | {kt[0]} / {kt[1]} | {tf} | {tf/size:.1f} | {tt[0]} / {tt[1]} |")
    for label, p, fn in (("kensa", f"{w}/ck{i}.json", kfiles), ("trivy", f"{w}/ct{i}.json", lambda x: tfiles(x, ""))):
        for path, c in fn(p).most_common(8): print(f"  {label}: {c} in {path}")
PY
