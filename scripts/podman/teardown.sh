#!/usr/bin/env bash
# teardown.sh undoes scripts/podman/env.sh.
#
# Usage (as root):   scripts/podman/teardown.sh [DIR] [--all]
#
# DIR defaults to $HARMONY_PODMAN_DIR, else /tmp/harmony-podman. It removes
# every container labelled io.harmony.device in DIR's storage and stops the
# API service, keeping the images (cheap to reuse next run). With --all it
# removes every container and image too and deletes DIR.
set -euo pipefail

DIR=""
ALL=0
for arg in "$@"; do
	case "$arg" in
		--all | all) ALL=1 ;;
		-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
		*) DIR="$arg" ;;
	esac
done
DIR="${DIR:-${HARMONY_PODMAN_DIR:-/tmp/harmony-podman}}"
SOCK="$DIR/podman.sock"

log() { printf 'podman-teardown: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "error: must run as root"; exit 1; }
if [ ! -f "$DIR/containers.conf" ] || [ ! -f "$DIR/storage.conf" ]; then
	log "$DIR holds no env.sh set-up; nothing to do"
	exit 0
fi
export CONTAINERS_CONF="$DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$DIR/storage.conf"

# 1. Containers, straight through storage (works with the service up or down).
if [ "$ALL" -eq 1 ]; then
	ids="$(podman ps -a -q)"
else
	ids="$(podman ps -a -q --filter label=io.harmony.device)"
fi
if [ -n "$ids" ]; then
	log "removing containers: $(echo $ids)"
	# shellcheck disable=SC2086 # one id per word
	podman rm -f -t 0 $ids >/dev/null
fi

# 2. The service: only the pid recorded by env.sh, and only if it still is
# that podman service.
pid="$(cat "$DIR/service.pid" 2>/dev/null || true)"
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "system service .*unix://$SOCK"; then
	log "stopping podman service pid $pid"
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	if [ -d "/proc/$pid" ]; then
		log "service pid $pid ignored SIGTERM for 10s; killing it"
		kill -9 "$pid" 2>/dev/null || true
	fi
fi
rm -f "$DIR/service.pid" "$SOCK"

# 3. Everything else, on request.
if [ "$ALL" -eq 1 ]; then
	log "removing all images and $DIR"
	podman system reset --force >/dev/null 2>&1 || podman rmi -a -f >/dev/null 2>&1 || true
	# Nothing may stay mounted under DIR before it is deleted.
	if grep -q " $DIR/" /proc/self/mounts; then
		grep " $DIR/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r umount -l
	fi
	case "$DIR" in
		/ | /tmp | /var | /root | "") log "error: refusing to delete $DIR"; exit 1 ;;
	esac
	rm -rf "$DIR"
fi
log "done"
