#!/usr/bin/env bash
# Acceptance for `kensa harden`: builds an nginx-on-Debian image from Debian
# packages (debian-base test image + apt-get install nginx), derives its
# hardened profile with `kensa harden --format docker-run`, runs the image
# with exactly those settings (non-root uid:gid, read-only root, the tmpfs
# mounts, cap drop ALL + the added capabilities, no-new-privileges) and
# checks that nginx answers on port 80; then runs it again without the tmpfs
# mounts and checks that it fails.
#
# Runtime: podman (crun) first. Where podman cannot start containers (this
# machine: crun fails on setrlimit and "cgroups in hybrid mode not
# supported"), the same settings are applied with util-linux: unshare
# (mount, pid, net, ipc, uts namespaces), a read-only bind mount of the
# image's root filesystem, tmpfs mounts, chroot and setpriv (uid/gid,
# capability bounding/ambient sets, no_new_privs). The default seccomp
# profile is not applied in that fallback.
#
# Needs root, buildah, curl, network access to deb.debian.org, and the
# debian-base test image (scripts/build-test-images.sh).
# Usage: scripts/harden-acceptance.sh [WORKDIR]   (default /tmp/kensa-harden)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
images="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}"
work="${1:-/tmp/kensa-harden}"
mkdir -p "$work"
B=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

echo "== kensa"
(cd "$repo" && go build -o "$work/kensa" ./cmd/kensa)

archive="$work/nginx-debian.docker.tar"
if [ ! -f "$archive" ]; then
  echo "== build nginx-on-Debian from Debian packages"
  [ -f "$images/debian-base.rootfs.tar.gz" ] || { echo "no debian-base test image in $images: run scripts/build-test-images.sh" >&2; exit 1; }
  root="$work/build-rootfs"
  rm -rf "$root" && mkdir -p "$root"
  tar -xzf "$images/debian-base.rootfs.tar.gz" -C "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount --bind /proc "$root/proc"; mount --bind /dev "$root/dev"
  trap 'umount "$root/proc" "$root/dev" 2>/dev/null || true' EXIT
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null && rm -rf /var/lib/apt/lists/*'
  umount "$root/proc" "$root/dev"; trap - EXIT
  rm -f "$root/etc/resolv.conf"
  tar -C "$root" -czf "$work/nginx-rootfs.tar.gz" .
  ctr=$("${B[@]}" from scratch)
  "${B[@]}" add "$ctr" "$work/nginx-rootfs.tar.gz" /
  "${B[@]}" config --port 80 --cmd '["nginx","-g","daemon off;"]' --stop-signal SIGQUIT "$ctr"
  "${B[@]}" commit -q "$ctr" nginx-debian >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
  "${B[@]}" push -q nginx-debian "docker-archive:$archive:localhost/nginx-debian:latest"
fi

echo "== kensa harden --format docker-run"
"$work/kensa" harden -q --format docker-run "$archive" | tee "$work/profile.txt"
user=$(sed -n 's/^ *--user \([0-9]*:[0-9]*\).*/\1/p' "$work/profile.txt")
mapfile -t tmpfs < <(sed -n 's/^ *--tmpfs \([^:]*\):.*/\1/p' "$work/profile.txt")
mapfile -t caps < <(sed -n 's/^ *--cap-add \([A-Z_]*\).*/\1/p' "$work/profile.txt")
[ -n "$user" ] && [ "${#tmpfs[@]}" -gt 0 ] || { echo "profile without user or tmpfs" >&2; exit 1; }

# Root filesystem of the image, for the util-linux fallback.
ctr=$("${B[@]}" from -q localhost/nginx-debian:latest 2>/dev/null || "${B[@]}" from -q "docker-archive:$archive")
rootfs=$("${B[@]}" mount "$ctr")
cleanup() {
  "${B[@]}" umount "$ctr" >/dev/null 2>&1 || true; "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
  # podman leaves its storage's overlay folder mounted.
  if mountpoint -q "$work/podman-root/overlay" 2>/dev/null; then umount "$work/podman-root/overlay" || true; fi
}
trap cleanup EXIT

# run_sandbox WITH_TMPFS: starts nginx with the profile in new namespaces
# and prints the PID of the namespaces' first process.
run_sandbox() {
  local with_tmpfs=$1 newroot="$work/newroot-$1" capset="" c
  mkdir -p "$newroot"
  for c in "${caps[@]}"; do capset+=",+${c,,}"; done
  local mounts="mount --make-rprivate / && mount --bind '$rootfs' '$newroot' && mount -o remount,bind,ro '$newroot'"
  mounts+=" && mount -t proc proc '$newroot/proc' && mount -t tmpfs -o mode=755,nosuid tmpfs '$newroot/dev'"
  mounts+=" && for d in null zero urandom random; do touch '$newroot'/dev/\$d && mount --bind /dev/\$d '$newroot'/dev/\$d; done"
  if [ "$with_tmpfs" = 1 ]; then
    for d in "${tmpfs[@]}"; do mounts+=" && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs '$newroot$d'"; done
  fi
  mounts+=" && ip link set lo up"
  local u=${user%%:*} g=${user##*:}
  unshare --mount --uts --ipc --net --pid --fork --kill-child sh -c "$mounts && exec chroot '$newroot' setpriv --reuid=$u --regid=$g --clear-groups --inh-caps=-all$capset --ambient-caps=-all$capset --bounding-set=-all$capset --no-new-privs nginx -g 'daemon off;'" \
    >"$work/nginx-$1.log" 2>&1 &
  echo $!
}

stop_sandbox() { # stop_sandbox PID: kill the pid namespace's init (nginx), then unshare
  local child
  child=$(pgrep -P "$1" | head -1 || true)
  [ -n "$child" ] && kill "$child" 2>/dev/null
  sleep 0.5
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

answer() { # answer PID: curl port 80 inside the sandbox's network namespace
  local pid=$1 child
  for _ in $(seq 1 50); do
    child=$(pgrep -P "$pid" | head -1 || true)
    if [ -n "$child" ] && code=$(nsenter --net --target "$child" curl -fsS -o /dev/null -w '%{http_code}' http://127.0.0.1:80/ 2>/dev/null); then
      echo "$code"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

echo "== podman run with the profile"
podman_ok=0
if command -v podman >/dev/null; then
  P=(podman --root "$work/podman-root" --runroot "$work/podman-run")
  args=(--rm -d --user "$user" --read-only --cap-drop ALL --security-opt no-new-privileges -p 18080:80)
  for d in "${tmpfs[@]}"; do args+=(--tmpfs "$d:mode=1777"); done
  for c in "${caps[@]}"; do args+=(--cap-add "$c"); done
  if id=$("${P[@]}" run "${args[@]}" "docker-archive:$archive" 2>"$work/podman.err"); then
    sleep 2
    if curl -fsS -o /dev/null http://127.0.0.1:18080/; then podman_ok=1; echo "podman: nginx answers"; fi
    "${P[@]}" stop "$id" >/dev/null 2>&1 || true
  else
    echo "podman cannot run containers here: $(tail -1 "$work/podman.err")"
  fi
fi

if [ "$podman_ok" = 0 ]; then
  echo "== util-linux sandbox with the profile (user $user, read-only root, tmpfs ${tmpfs[*]}, caps ${caps[*]:-none}, no_new_privs)"
  pid=$(run_sandbox 1)
  if code=$(answer "$pid"); then
    echo "with the profile: nginx answers HTTP $code on 127.0.0.1:80 (sandbox network namespace)"
    ps -eo uid,gid,args | grep '[n]ginx: ' | sed 's/^/  /'
  else
    echo "FAIL: nginx does not answer with the profile"; cat "$work/nginx-1.log"; stop_sandbox "$pid"; exit 1
  fi
  stop_sandbox "$pid"

  echo "== the same without the tmpfs mounts"
  pid=$(run_sandbox 0)
  if answer "$pid" >/dev/null; then
    echo "FAIL: nginx answers on a read-only root without the tmpfs mounts"; stop_sandbox "$pid"; exit 1
  fi
  stop_sandbox "$pid"
  echo "without the tmpfs mounts nginx fails to start: $(grep -m1 -o 'emerg.*' "$work/nginx-0.log" || tail -1 "$work/nginx-0.log")"
fi
echo "OK"
