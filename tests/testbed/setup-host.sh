#!/bin/sh
# Prepare a fresh Debian bookworm machine (as root) for the breakfix test bed. Idempotent.
# Installs docker.io, debootstrap and the OpenSSH client, then starts dockerd in the background
# when `docker info` fails (hosts without systemd, e.g. CI containers). Prints what it did.
set -eu

log() { printf '[setup-host] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host.sh must run as root" >&2
    exit 1
fi

PACKAGES="docker.io debootstrap openssh-client ca-certificates iproute2 iptables tar"
missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    log "apt-get update"
    apt-get update -qq
    log "installing:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    log "packages already installed: $PACKAGES"
fi

if docker info >/dev/null 2>&1; then
    log "docker daemon already answers ($(docker version --format '{{.Server.Version}}'))"
else
    log_file="${BREAKFIX_DOCKERD_LOG:-/var/log/breakfix-dockerd.log}"
    if pidof dockerd >/dev/null 2>&1; then
        log "dockerd is running but not answering yet; waiting"
    else
        log "starting dockerd in the background (log: $log_file)"
        nohup dockerd >"$log_file" 2>&1 &
    fi
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then
            echo "dockerd did not become ready within 60 s; last log lines:" >&2
            tail -n 30 "$log_file" >&2 || true
            exit 1
        fi
        sleep 1
    done
    log "docker daemon ready after ${i}s ($(docker version --format '{{.Server.Version}}'))"
fi

log "docker: storage $(docker info --format '{{.Driver}}'), cgroup v$(docker info --format '{{.CgroupVersion}}')"
log "done"
