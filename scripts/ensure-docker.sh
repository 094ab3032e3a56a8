#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the lab engine (labs/runtime/) and its tests.
#
# - An engine already answers (DOCKER_HOST or /var/run/docker.sock): say so, add the lab
#   firewall rules when it runs on this host and we are root, and stop.
# - Otherwise, as root on Debian or Ubuntu: install Debian's docker.io (and debootstrap, which
#   labs/images/build.py needs for the base image), start dockerd in the background (log in
#   var/dockerd.log, pid in var/dockerd.pid), wait for it, and add the firewall rules.
# - Otherwise: exit 1 and say what to do.
# Safe to run again. Both Debian's /usr/bin/docker and a newer client in /usr/local/bin work
# with Debian's engine (the client negotiates the API version down), so plain `docker` is used.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
mkdir -p var

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'ensure-docker: %s\n' "$*" >&2; exit 1; }

engine_version() {
    if command -v docker >/dev/null 2>&1; then
        timeout 15 docker version --format '{{.Server.Version}}' 2>/dev/null
    elif [ -z "${DOCKER_HOST:-}" ] && [ -S /var/run/docker.sock ] && command -v curl >/dev/null; then
        timeout 15 curl -fsS --unix-socket /var/run/docker.sock http://docker/version \
            | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p'
    else
        return 1
    fi
}

engine_is_local() {
    case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
        unix://*) return 0 ;;
        *) return 1 ;;
    esac
}

# Lab networks are internal bridges named acad-<hex> (labs/runtime/sandbox.py), with no IPv4
# address on the host side: Docker already drops what they send to other subnets, and the host
# is not reachable at the gateway address. These rules close the rest, for labs that are given
# NET_ADMIN and could add routes or address the host by another of its IPs through the bridge:
# - INPUT: nothing from a lab bridge reaches a service on the host.
# - DOCKER-USER (consulted before Docker's own FORWARD rules): nothing is routed into or out of
#   a lab bridge; frames bridged between containers of the same sandbox pass (physdev).
# Rejected rather than dropped, so that a learner's connection fails at once.
# The same `iptables` as dockerd's (Debian's alternative: nf_tables here) sees its chains.
lab_firewall() {
    if [ "$(id -u)" != 0 ] || ! engine_is_local || ! command -v iptables >/dev/null 2>&1; then
        say "Lab firewall rules not checked (needs root and a local engine); see this script."
        return 0
    fi
    if ! iptables -n -L DOCKER-USER >/dev/null 2>&1; then
        echo "ensure-docker: no DOCKER-USER chain (dockerd runs with --iptables=false?);" \
            "lab networks then depend on the engine's own isolation only." >&2
        return 0
    fi
    local cmd
    for cmd in iptables ip6tables; do
        command -v "$cmd" >/dev/null 2>&1 || continue
        "$cmd" -n -L ACADEMY-LABS >/dev/null 2>&1 || "$cmd" -N ACADEMY-LABS
        "$cmd" -F ACADEMY-LABS
        "$cmd" -A ACADEMY-LABS -m physdev --physdev-is-bridged -j RETURN
        if [ "$cmd" = iptables ]; then
            "$cmd" -A ACADEMY-LABS -j REJECT --reject-with icmp-admin-prohibited
        else
            "$cmd" -A ACADEMY-LABS -j REJECT --reject-with adm-prohibited
        fi
        local forward=FORWARD
        "$cmd" -n -L DOCKER-USER >/dev/null 2>&1 && forward=DOCKER-USER
        local rule
        for rule in "INPUT -i acad+" "$forward -i acad+" "$forward -o acad+"; do
            # shellcheck disable=SC2086 # rule is deliberately split into chain and matches
            "$cmd" -C $rule -j ACADEMY-LABS 2>/dev/null || "$cmd" -I $rule -j ACADEMY-LABS
        done
    done
}

live_restore_note() {
    command -v docker >/dev/null 2>&1 || return 0
    if [ "$(timeout 15 docker info --format '{{.LiveRestoreEnabled}}' 2>/dev/null)" = false ]; then
        echo "ensure-docker: this engine runs without live restore: restarting it stops every" \
            "lab. Start it with --live-restore (README, Deploying)." >&2
    fi
}

if version="$(engine_version)" && [ -n "$version" ]; then
    say "Docker engine $version answers."
    live_restore_note
    lab_firewall
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
    fail "DOCKER_HOST=$DOCKER_HOST does not answer. Start that engine, or unset DOCKER_HOST."
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "No Docker engine answers at /var/run/docker.sock. Install and start Docker \
(on Debian or Ubuntu, as root: apt-get install docker.io debootstrap; dockerd &), \
make sure your user may use it (the docker group), or run this script as root."
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "Installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# dockerd's flags, each for a reason found on this kind of machine (a VM whose PID 1 is not
# systemd, cgroup v1, ext4, no route to a registry):
# --exec-opt native.cgroupdriver=cgroupfs  the systemd driver needs systemd as PID 1.
# --storage-driver  overlay2 when the kernel has overlayfs and /var/lib/docker is not itself on
#                   overlayfs (nested engines); vfs, slow but universal, otherwise.
# --bridge=none     no default docker0 bridge with NAT to the outside: a container started
#                   without a network gets none, instead of a route out.
# --iptables=true   Docker's isolation of internal networks is iptables rules (the default;
#                   stated because the lab firewall above builds on it).
# --no-new-privileges  the default for every container, not only those the runtime creates.
# --default-address-pool  a /24 per sandbox from 172.20.0.0/14: 1024 sandboxes, where the
#                   built-in pools run out near 30 /16 networks plus 256 /20s.
# --log-level=warn  containerd's info lines would fill var/dockerd.log.
# --live-restore    a restart of dockerd (an upgrade, a crash) leaves the labs' containers
#                   running; the platform then finds every session as it was
#                   (bench/drill_engine_restart.py). An engine found already running keeps its
#                   own settings: see `docker info` (Live Restore Enabled).
storage=vfs
data_fs="$(stat -f -c %T /var/lib/docker 2>/dev/null || stat -f -c %T /var/lib)"
if grep -qw overlay /proc/filesystems && [ "$data_fs" != overlayfs ]; then
    storage=overlay2
fi
flags=(
    --host=unix:///var/run/docker.sock
    --pidfile="$repo/var/dockerd.pid"
    --exec-opt native.cgroupdriver=cgroupfs
    --storage-driver="$storage"
    --bridge=none
    --iptables=true
    --no-new-privileges
    --default-address-pool "base=172.20.0.0/14,size=24"
    --log-level=warn
    --live-restore
)

pid="$(cat var/dockerd.pid 2>/dev/null || true)"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "dockerd (pid $pid) is running but not answering yet; waiting for it"
else
    say "Starting dockerd (log: var/dockerd.log)"
    printf '\n--- %s dockerd %s\n' "$(date -u +%FT%TZ)" "${flags[*]}" >>var/dockerd.log
    setsid dockerd "${flags[@]}" </dev/null >>var/dockerd.log 2>&1 &
fi

for _ in $(seq 60); do
    if version="$(engine_version)" && [ -n "$version" ]; then
        say "Docker engine $version answers."
        lab_firewall
        exit 0
    fi
    sleep 1
done
tail -n 20 var/dockerd.log >&2 || true
fail "dockerd did not answer within 60 s; its log is var/dockerd.log."
