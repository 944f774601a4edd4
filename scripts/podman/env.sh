#!/usr/bin/env bash
# env.sh sets up a private podman for harmony-agent's podman tests, idempotently.
#
# Usage (as root):   eval "$(scripts/podman/env.sh [DIR])"
#
# DIR defaults to $HARMONY_PODMAN_DIR, else /tmp/harmony-podman. Keep it short:
# the API socket lives in it and unix socket paths are limited to 107 bytes.
#
# It installs podman runc busybox-static catatonit with apt-get when missing,
# writes DIR/containers.conf and DIR/storage.conf (storage, run state and the
# events log all under DIR, so the host's podman config and containers are
# never touched), starts `podman system service` on unix://DIR/podman.sock
# (pid in DIR/service.pid, log in DIR/service.log) unless it already answers,
# and imports the busybox test image built from busybox-static when missing.
#
# Only the export lines go to stdout; progress goes to stderr. Undo with
# scripts/podman/teardown.sh DIR [--all].
set -euo pipefail

DIR="${1:-${HARMONY_PODMAN_DIR:-/tmp/harmony-podman}}"
IMAGE="${HARMONY_TEST_IMAGE:-localhost/harmony-test/busybox:latest}"
PACKAGES=(podman runc busybox-static catatonit)

log() { printf 'podman-env: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (podman is used rootful with runc here)"

case "$DIR" in
	/*) ;;
	*) DIR="$(pwd)/$DIR" ;;
esac
SOCK="$DIR/podman.sock"
[ "${#SOCK}" -lt 100 ] || die "socket path $SOCK is too long for a unix socket; pick a shorter DIR"

# 1. Packages. apt-get update only when something is missing.
missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}" >&2
fi
command -v podman >/dev/null || die "podman not found after install"

mkdir -p "$DIR"
# One set-up at a time per DIR (parallel make, two shells).
exec 9>"$DIR/.lock"
flock 9

# service_pid prints the pid from the pid file when it is our podman service.
service_pid() {
	local pid
	pid="$(cat "$DIR/service.pid" 2>/dev/null)" || return 1
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "system service .*unix://$SOCK" || return 1
	echo "$pid"
}

# stop_service stops the service recorded in the pid file, if it runs.
stop_service() {
	local pid
	pid="$(service_pid)" || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}

# 2. Config. The storage driver is chosen once (overlay when the kernel can
# mount it on DIR's filesystem, else vfs) and kept, since storage made with
# one driver cannot be read with another.
driver=""
if [ -f "$DIR/storage.conf" ]; then
	driver="$(sed -n 's/^driver *= *"\(.*\)"/\1/p' "$DIR/storage.conf")"
fi
if [ -z "$driver" ]; then
	driver="${HARMONY_PODMAN_DRIVER:-}"
fi
if [ -z "$driver" ]; then
	probe="$(mktemp -d "$DIR/.overlay-probe.XXXXXX")"
	mkdir -p "$probe/l" "$probe/u" "$probe/w" "$probe/m"
	if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
		umount "$probe/m"
		driver=overlay
	else
		driver=vfs
	fi
	rm -rf "$probe"
fi
log "storage driver $driver under $DIR/storage"

# Run state (runroot, tmp_dir) must not outlive a reboot, or podman would
# believe the old containers still run; /tmp is not a tmpfs on Debian 12.
boot_id="$(cat /proc/sys/kernel/random/boot_id)"
if [ -f "$DIR/boot_id" ] && [ "$(cat "$DIR/boot_id")" != "$boot_id" ]; then
	log "host rebooted since the last set-up; clearing run state"
	stop_service
	rm -rf "$DIR/run" "$DIR/tmp" "$DIR/service.pid" "$DIR/podman.sock"
fi
echo "$boot_id" >"$DIR/boot_id"
mkdir -p "$DIR/storage" "$DIR/run" "$DIR/tmp"
cat >"$DIR/containers.conf.new" <<EOF
# Written by scripts/podman/env.sh for harmony-agent tests.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$DIR/tmp"
EOF
cat >"$DIR/storage.conf.new" <<EOF
# Written by scripts/podman/env.sh for harmony-agent tests.
[storage]
driver = "$driver"
graphroot = "$DIR/storage"
runroot = "$DIR/run"
EOF
mv "$DIR/containers.conf.new" "$DIR/containers.conf"
mv "$DIR/storage.conf.new" "$DIR/storage.conf"

export CONTAINERS_CONF="$DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$DIR/storage.conf"

# ping reports whether the API on $SOCK answers.
ping() {
	[ -S "$SOCK" ] || return 1
	if command -v curl >/dev/null; then
		[ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://d/v4.0.0/libpod/_ping 2>/dev/null)" = OK ]
	else
		timeout 5 podman --remote --url "unix://$SOCK" version >/dev/null 2>&1
	fi
}

# 3. The API service.
if service_pid >/dev/null && ping; then
	log "service already answers on $SOCK"
else
	if pid="$(service_pid)"; then
		log "service pid $pid does not answer; restarting it"
		stop_service
	fi
	rm -f "$SOCK" "$DIR/service.pid"
	log "starting podman system service on unix://$SOCK"
	# stdin/stdout/stderr detached so that "$(env.sh)" does not wait for it,
	# the lock fd closed so that it does not hold the lock;
	# setsid so it survives the calling shell. Not a process-group leader
	# here, so setsid execs in place and $! is podman's pid.
	setsid podman system service --time=0 "unix://$SOCK" \
		</dev/null >>"$DIR/service.log" 2>&1 9>&- &
	echo $! >"$DIR/service.pid"
	for _ in $(seq 300); do
		ping && break
		kill -0 "$(cat "$DIR/service.pid")" 2>/dev/null || die "podman service exited; see $DIR/service.log"
		sleep 0.1
	done
	ping || die "podman service did not answer on $SOCK within 30s; see $DIR/service.log"
fi

# 4. The test image: busybox-static plus its applet links, imported locally
# (nothing can be pulled here).
if podman image exists "$IMAGE"; then
	log "image $IMAGE present"
else
	log "building $IMAGE from /bin/busybox"
	build="$(mktemp -d "$DIR/.image.XXXXXX")"
	trap 'rm -rf "$build"' EXIT
	mkdir -p "$build/rootfs/bin" "$build/rootfs/etc" "$build/rootfs/tmp" \
		"$build/rootfs/proc" "$build/rootfs/sys" "$build/rootfs/dev" "$build/rootfs/root"
	chmod 1777 "$build/rootfs/tmp"
	cp /bin/busybox "$build/rootfs/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$build/rootfs/bin/$applet"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$build/rootfs/etc/passwd"
	echo 'root:x:0:' >"$build/rootfs/etc/group"
	tar -C "$build/rootfs" -cf "$build/rootfs.tar" .
	podman import \
		--change 'CMD ["/bin/sh"]' \
		--change 'ENV PATH=/bin' \
		"$build/rootfs.tar" "$IMAGE" >&2
	rm -rf "$build"
	trap - EXIT
fi

cat <<EOF
export CONTAINERS_CONF='$CONTAINERS_CONF'
export CONTAINERS_STORAGE_CONF='$CONTAINERS_STORAGE_CONF'
export HARMONY_PODMAN_SOCKET='$SOCK'
export HARMONY_TEST_IMAGE='$IMAGE'
EOF
