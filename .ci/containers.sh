#!/usr/bin/env bash
# Container images for the container scenario (test/containers/*) and the GNS3 project.
# Idempotent: each step runs only if its result is missing.
#   1. installs docker.io and debootstrap (Debian packages) if missing
#   2. starts dockerd with --iptables=false --bridge=none if no daemon answers: Docker's default
#      iptables setup (FORWARD policy DROP, bridge-nf-call-iptables=1) breaks the namespace labs
#      other tests build on this machine, and the scenario wires containers with veths itself
#   3. builds the Debian bookworm base image livmap-base:bookworm with debootstrap + docker import
#      (no image registry is reachable here; users with one can build on debian:bookworm-slim)
#   4. builds livmap/livmap, livmap/oor-xtr and livmap/host from docker/Dockerfile on that base
# Exit status non-zero if any step fails. LIVMAP_BASE_IMAGE overrides the base image name.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${LIVMAP_BASE_IMAGE:-livmap-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_LOG=/var/log/livmap-dockerd.log
log() { echo "containers: $*" >&2; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (--iptables=false --bridge=none), log in $DOCKERD_LOG"
  # setsid: the daemon outlives this script and is not in CI's process group.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none >>"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see $DOCKERD_LOG"; tail -20 "$DOCKERD_LOG" >&2; exit 1; }
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  root=$(mktemp -d /var/tmp/livmap-base.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  log "building $BASE with debootstrap --variant=minbase bookworm ($MIRROR)"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null
  # apt lists and caches are rebuilt by every image that installs packages.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - "$BASE" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

# CAs added to this machine (e.g. a TLS-intercepting proxy's) are trusted while fetching Node and
# the npm packages; they stay in the build stage, not in the images.
extra_ca=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
for target in livmap oor-xtr host; do
  log "building livmap/$target (base $BASE)"
  docker build --network host -q --build-arg "BASE=$BASE" --build-arg "EXTRA_CA_CERTS=$extra_ca" \
    -f docker/Dockerfile --target "$target" -t "livmap/$target" . >/dev/null
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^livmap' >&2
