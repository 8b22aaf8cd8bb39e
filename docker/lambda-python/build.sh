#!/usr/bin/env bash
# Makes public.ecr.aws/lambda/python:3.13-<arch> available to `sam local` (arch: this host's).
# The real image when it is here or can be pulled; otherwise the stand-in described in Dockerfile,
# built from Debian packages and PyPI wheels, rebuilt only when its inputs change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
say() { echo "lambda-image: $*" >&2; }

case "${ARCHITECTURE:-$(uname -m)}" in
  x86_64 | amd64) arch=x86_64 pip_platform=manylinux2014_x86_64 ;;
  arm64 | aarch64) arch=arm64 pip_platform=manylinux2014_aarch64 ;;
  *) say "no Lambda architecture for $(uname -m)"; exit 1 ;;
esac
image="public.ecr.aws/lambda/python:3.13-$arch"
rootfs="orders-lambda-rootfs:trixie-$arch"
python=${SAM_BUILD_PYTHON:-$root/.venv/bin/python}
# The runtime's packages: awslambdaric, and boto3 at requirements-dev.txt's versions (make lock writes the lock).
lock=$here/requirements.txt
inputs=$(cat "$here/Dockerfile" "$here/bootstrap" "$lock" "$0" | sha256sum | cut -c1-16)

current=$(docker image inspect --format '{{ index .Config.Labels "orders.stand-in" }}' "$image" 2>/dev/null || true)
if [[ -n $current && $current == "$inputs" ]]; then
  say "$image: the stand-in, up to date ($inputs)"
  exit 0
elif docker image inspect "$image" >/dev/null 2>&1 && [[ -z $current ]]; then
  say "$image: the real image is here"
  exit 0
elif timeout 60 docker pull --quiet "$image" >/dev/null 2>&1; then
  say "$image: pulled the real image"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "$image cannot be pulled here: building the stand-in (Debian trixie, its python3.13, $(grep -oE '^(awslambdaric|boto3)==[^ ]+' "$lock" | tr '\n' ' ')from the hashed lock)"

if ! docker image inspect "$rootfs" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing Debian's debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  say "debootstrap trixie ($arch) with python3.13"
  debootstrap --variant=minbase --include=python3.13 --arch="$( [[ $arch == x86_64 ]] && echo amd64 || echo arm64)" \
    trixie "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar --numeric-owner -C "$work/rootfs" -c . | docker import - "$rootfs" >/dev/null
  rm -rf "$work/rootfs"
  say "imported the rootfs as $rootfs"
fi

context=$work/context
mkdir "$context"
cp "$here/Dockerfile" "$here/bootstrap" "$context/"
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --target "$context/runtime" \
  --platform "$pip_platform" --implementation cp --python-version 3.13 --only-binary=:all: \
  --require-hashes --requirement "$lock" >"$work/pip.log" 2>&1 \
  || { tail -20 "$work/pip.log" >&2; exit 1; }
docker build --quiet --build-arg ROOTFS="$rootfs" --label "orders.stand-in=$inputs" -t "$image" "$context" \
  >"$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; exit 1; }
say "built the stand-in $image ($inputs)"
