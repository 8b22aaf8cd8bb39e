#!/usr/bin/env bash
# Makes sure a Docker engine answers, for `sam local`. Uses a running one; otherwise installs
# Debian's docker.io (root + apt-get, as on CI) and starts dockerd with its defaults.
# Says what it did; exits non-zero with the reason when no engine can be had on this machine.
set -euo pipefail

say() { echo "docker-engine: $*" >&2; }

if docker info >/dev/null 2>&1; then
  say "an engine is already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "no Docker engine runs and none can be installed here (needs root and apt-get)."
    say "install Docker (https://docs.docker.com/engine/install/) or start Docker Desktop, then re-run."
    exit 1
  fi
  say "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if [[ $(id -u) -ne 0 ]]; then
  say "dockerd is installed but not running, and starting it needs root (sudo systemctl start docker)."
  exit 1
fi

if [[ -d /run/systemd/system ]]; then
  say "starting docker.service"
  systemctl start docker
else
  # No init system (a container or a CI sandbox): run dockerd directly, logging beside its socket.
  say "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    say "engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 0.5
done
say "dockerd did not answer within 30 s; the end of /var/log/dockerd.log:"
tail -15 /var/log/dockerd.log >&2 || true
exit 1
