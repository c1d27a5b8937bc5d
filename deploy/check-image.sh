#!/usr/bin/env bash
# Builds the gwasflow image from deploy/Containerfile without any container registry and checks it:
# `gwasflow selftest` inside it (no network), and a command sent the way the aws_batch executor sends an
# array child (/bin/sh -c ARRAY_SCRIPT with GWASFLOW_ARGV_<index>). Run as root from anywhere; used by .ci/run.
#
# The base image is a minimal Debian bookworm made by debootstrap from the Debian mirror and imported
# with `podman import` (cached as localhost/gwasflow-base:bookworm). Elsewhere, build on the official
# base instead: podman build -f deploy/Containerfile -t gwasflow .
#
# Runtime flags, for machines like the CI's: crun refuses hybrid cgroup v1/v2 hosts, so runc is used; the
# process lacks CAP_SYS_RESOURCE, so the ulimits stay below the host's hard limits (podman's defaults
# would raise them); HOST_CA (default: the host's CA bundle) is mounted during the build so pip trusts an
# intercepting HTTPS proxy. Prints the seconds each stage took.
set -euo pipefail
cd "$(dirname "$0")/.."

image="${GWASFLOW_IMAGE:-localhost/gwasflow:check}"
base="localhost/gwasflow-base:bookworm"
host_ca="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
run_flags=(--runtime runc)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
t0=$SECONDS

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc debootstrap >/dev/null
fi
echo "check-image: tools ready ($((SECONDS - t0)) s)"

if ! podman image exists "$base"; then
  rootfs="$(mktemp -d /var/tmp/gwasflow-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" \
    http://deb.debian.org/debian >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import - "$base" >/dev/null
fi
echo "check-image: base $base ($((SECONDS - t0)) s)"

mounts=()
if [ -f "$host_ca" ]; then mounts=(-v "$host_ca:/etc/ssl/certs/ca-certificates.crt:ro"); fi
podman "${run_flags[@]}" build --quiet --pull=never --network host "${limits[@]}" "${mounts[@]}" \
  --build-arg "BASE_IMAGE=$base" -f deploy/Containerfile -t "$image" . >/dev/null
echo "check-image: built $image ($((SECONDS - t0)) s)"

in_image() { podman "${run_flags[@]}" run --rm --network none "${limits[@]}" "$@"; }
in_image "$image" gwasflow selftest
script="$(in_image "$image" python -c 'from gwasflow.executors.aws_batch import ARRAY_SCRIPT; print(ARRAY_SCRIPT, end="")')"
argv="$(printf '%s\n' MPLBACKEND=Agg python -m gwasflow regenie --help)"
out="$(in_image -e AWS_BATCH_JOB_ARRAY_INDEX=3 -e "GWASFLOW_ARGV_3=$argv" "$image" /bin/sh -c "$script")"
case "$out" in
  "usage: gwasflow regenie"*) echo "check-image: an array child's argv ran in the image" ;;
  *) echo "check-image: the array child's command printed: ${out:0:300}" >&2; exit 1 ;;
esac
echo "check-image: passed ($((SECONDS - t0)) s)"
