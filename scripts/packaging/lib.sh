#!/usr/bin/env bash
# lib.sh: what the packaging scripts share. Source it; do not run it.
#
# Inputs, from the environment (mk/packaging.mk passes the Makefile's own
# values; run by hand, the same defaults are computed here):
#   GO        the go command                          (go)
#   VERSION   git describe --tags --always --dirty    (dev without git)
#   COMMIT    git rev-parse --short HEAD
#   DATE      the build time stamped into the binaries, UTC RFC 3339
#   LDFLAGS   -s -w -X main.version=... -X main.commit=... -X main.date=...
#   DIST      where binaries and .debs go             (dist)
#   CMDS      the commands to build and package       (every directory in cmd/)
#   ARCHS     the architectures, in dist's spelling   (amd64 arm64 armv7)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit

GO="${GO:-go}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
COMMIT="${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
DATE="${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
LDFLAGS="${LDFLAGS:--s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE}"
DIST="${DIST:-dist}"
case "$DIST" in /*) ;; *) DIST="$ROOT/$DIST" ;; esac
if [ -z "${CMDS:-}" ]; then
	CMDS="$(cd cmd && for d in */; do [ -f "$d/main.go" ] && printf '%s\n' "${d%/}"; done | xargs)"
fi
ARCHS="${ARCHS:-amd64 arm64 armv7}"
PKG=harmony-agent
# FLEET_PKG is the central hosts' package: harmony-fleet (CLI and serve)
# and its service. The device package (PKG) carries every other command.
FLEET_PKG=harmony-fleet
FLEET_CMDS=harmony-fleet
AGENT_CMDS="$(for c in $CMDS; do [ "$c" = "$FLEET_CMDS" ] || printf '%s\n' "$c"; done | xargs)"
# Whoever builds the package; lintian wants a real-looking address.
MAINTAINER="${MAINTAINER:-harmony-agent maintainers <harmony-agent@harmony-edge.org>}"

log() { printf 'packaging/%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# goarch_env prints the GOARCH (and GOARM) assignments for a dist arch.
goarch_env() {
	case "$1" in
		amd64) echo "GOARCH=amd64" ;;
		arm64) echo "GOARCH=arm64" ;;
		armv7) echo "GOARCH=arm GOARM=7" ;;
		*) die "unknown architecture $1 (want amd64, arm64 or armv7)" ;;
	esac
}

# deb_arch prints the Debian architecture of a dist arch.
deb_arch() {
	case "$1" in
		amd64) echo amd64 ;;
		arm64) echo arm64 ;;
		armv7) echo armhf ;;
		*) die "unknown architecture $1" ;;
	esac
}

# qemu_for prints the qemu-user binary that runs a dist arch on this host,
# or nothing when the host runs it natively.
qemu_for() {
	local host
	host="$(dpkg --print-architecture)"
	[ "$(deb_arch "$1")" = "$host" ] && return 0
	case "$1" in
		amd64) echo qemu-x86_64-static ;;
		arm64) echo qemu-aarch64-static ;;
		armv7) echo qemu-arm-static ;;
	esac
}

# bin_path prints dist's file name of a command for an arch.
bin_path() { echo "$DIST/$1-linux-$2"; }

# deb_version turns the git-describe VERSION into a Debian version:
#   v0.3.0 -> 0.3.0-1, v0.3.0-rc1 -> 0.3.0~rc1-1,
#   v0.3.0-5-gabc1234 -> 0.3.0+git5.abc1234-1, a -dirty suffix -> +dirty,
#   no tag (a bare commit, or dev) -> 0.0.0~git<commit date>.<commit>-1.
deb_version() {
	local v="${VERSION#v}" dirty="" up
	case "$v" in *-dirty) dirty="+dirty"; v="${v%-dirty}" ;; esac
	if [[ "$v" =~ ^[0-9][0-9A-Za-z.]*(-[0-9A-Za-z.]+)*$ ]] && [[ "$v" == *.* ]]; then
		if [[ "$v" =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
			up="${BASH_REMATCH[1]//-/\~}+git${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
		else
			up="${v//-/\~}"
		fi
	else
		up="0.0.0~git$(commit_date +%Y%m%d).$COMMIT"
	fi
	echo "${up}${dirty}-1"
}

# commit_date prints HEAD's commit time (UTC) in a date(1) format, or now
# outside git; it dates the changelog and clamps file times in the .deb.
commit_date() {
	local t
	t="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
	TZ=UTC date -d "@$t" "$@"
}

# need_packages installs the Debian packages named, with apt-get, when
# any is missing (as root only; apt-get update only then).
need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install them or run as root"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2
}

# write_sums writes DIST/SHA256SUMS over every release file in DIST (the
# binaries and the .debs), so dist and deb can run in either order.
write_sums() {
	(cd "$DIST" && find . -maxdepth 1 -type f \( -name '*-linux-*' -o -name '*.deb' \) -printf '%f\n' |
		LC_ALL=C sort | xargs -r sha256sum >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
}

# host_arch prints this host's architecture in dist's spelling.
host_arch() {
	case "$(dpkg --print-architecture)" in
		amd64) echo amd64 ;;
		arm64) echo arm64 ;;
		armhf) echo armv7 ;;
		*) die "no dist architecture runs natively on $(dpkg --print-architecture)" ;;
	esac
}

# deb_path prints the .deb's file name for a dist arch and a package
# (default PKG).
deb_path() { echo "$DIST/${2:-$PKG}_$(deb_version)_$(deb_arch "$1").deb"; }
