#!/usr/bin/env bash
# test.sh checks what deb.sh built (make test-packaging builds it first):
#
#   unit     systemd-analyze verify of harmony-agent.service as the amd64
#            .deb installs it (extracted to a temporary root, so ExecStart
#            and the man page resolve there), alone and with the rootless
#            drop-in; systemd-analyze security prints its exposure and
#            fails above SECURITY_MAX (default 7.1, today's level);
#            the same verify of harmony-fleet.service from the harmony-fleet
#            .deb, and its exposure at most FLEET_SECURITY_MAX (default 2.5).
#   lintian  lintian on every .deb: no error or warning, and every
#            override in packaging/deb/lintian-overrides carries a comment.
#   binaries every binary is a static ELF of its architecture and runs
#            (harmony-agent from the device .deb, which must not carry
#            harmony-fleet; harmony-fleet from its own .deb):
#            "version", and "check-config" on the agent.yaml its own .deb
#            ships, natively or under qemu-<arch>-static.
#   install  the host-architecture .deb in a throwaway chroot of the host's
#            Debian release (mmdebstrap --variant=essential, cached under
#            CACHE): install, upgrade over a locally changed conffile,
#            remove, reinstall, purge, checking files, modes, the conffile,
#            the enablement symlinks and that the maintainer scripts run
#            cleanly. First without systemd running (they must not call
#            systemctl at all), then with /run/systemd/system present and a
#            systemctl stand-in that records its calls (start on install,
#            restart on upgrade, stop on remove).
#   sizes    the size of every binary and .deb.
#
# Usage (as root): scripts/packaging/test.sh [CHECK...]   (default: all)
# It installs lintian, qemu-user-static, mmdebstrap, systemd and man-db
# with apt-get when missing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SECURITY_MAX="${SECURITY_MAX:-7.1}"
FLEET_SECURITY_MAX="${FLEET_SECURITY_MAX:-2.5}"
CACHE="${CACHE:-/var/cache/harmony-agent-packaging}"
SUITE="${SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}"
CHECKS="${*:-unit lintian binaries install sizes}"

[ "$(id -u)" -eq 0 ] || die "must run as root (chroot, dpkg, apt-get)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ok() { log "ok: $*"; }
fail() { die "$*"; }

# deb_of prints the .deb of a dist arch and package (default PKG),
# failing when it was not built.
deb_of() {
	local d
	d="$(deb_path "$1" "${2:-$PKG}")"
	[ -f "$d" ] || fail "$d missing: run make deb"
	echo "$d"
}

check_unit() {
	need_packages systemd man-db
	local root="$work/unit" out score
	mkdir -p "$root"
	dpkg-deb -x "$(deb_of "$(host_arch)")" "$root"
	# verify resolves the unit's dependencies (sysinit.target, ...) under
	# --root too: give it the host's units, never overwriting the package's.
	cp -an /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
	# Documentation=man:harmony-agent(8) is checked with man(1), which
	# finds the page the .deb ships through MANPATH.
	export MANPATH="$root/usr/share/man"
	out="$(systemd-analyze verify --root="$root" harmony-agent.service 2>&1)" ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
	ok "systemd-analyze verify harmony-agent.service"

	# The rootless variant: the drop-in with a uid filled in, the user known.
	mkdir -p "$root/etc/systemd/system/harmony-agent.service.d"
	sed 's/@UID@/1000/g' "$root/usr/share/doc/$PKG/examples/rootless.conf" \
		>"$root/etc/systemd/system/harmony-agent.service.d/rootless.conf"
	cp /etc/passwd /etc/group "$root/etc/"
	echo 'harmony:x:1000:1000::/home/harmony:/usr/sbin/nologin' >>"$root/etc/passwd"
	echo 'harmony:x:1000:' >>"$root/etc/group"
	out="$(systemd-analyze verify --root="$root" harmony-agent.service 2>&1)" ||
		fail "systemd-analyze verify with rootless.conf: $out"
	[ -z "$out" ] || fail "systemd-analyze verify with rootless.conf printed: $out"
	score="$(systemd-analyze security --offline=true --root="$root" harmony-agent.service 2>&1 | sed -n 's/.*Overall exposure level.*: //p')"
	ok "systemd-analyze verify with examples/rootless.conf (exposure $score)"
	rm -r "$root/etc/systemd/system/harmony-agent.service.d"
	unset MANPATH

	score="$(systemd-analyze security --offline=true --root="$root" harmony-agent.service 2>&1 | sed -n 's/.*Overall exposure level.*: //p')"
	systemd-analyze security --offline=true --root="$root" \
		--threshold="$(awk -v m="$SECURITY_MAX" 'BEGIN { printf "%d", m * 10 + 0.5 }')" \
		harmony-agent.service >/dev/null 2>&1 ||
		fail "systemd-analyze security: exposure $score is above SECURITY_MAX=$SECURITY_MAX"
	ok "systemd-analyze security: exposure $score (at most $SECURITY_MAX)"

	local froot="$work/unit-fleet"
	mkdir -p "$froot"
	dpkg-deb -x "$(deb_of "$(host_arch)" "$FLEET_PKG")" "$froot"
	cp -an /usr/lib/systemd/system/. "$froot/usr/lib/systemd/system/"
	out="$(MANPATH="$froot/usr/share/man" systemd-analyze verify --root="$froot" harmony-fleet.service 2>&1)" ||
		fail "systemd-analyze verify harmony-fleet.service: $out"
	[ -z "$out" ] || fail "systemd-analyze verify harmony-fleet.service printed: $out"
	score="$(systemd-analyze security --offline=true --root="$froot" harmony-fleet.service 2>&1 | sed -n 's/.*Overall exposure level.*: //p')"
	systemd-analyze security --offline=true --root="$froot" \
		--threshold="$(awk -v m="$FLEET_SECURITY_MAX" 'BEGIN { printf "%d", m * 10 + 0.5 }')" \
		harmony-fleet.service >/dev/null 2>&1 ||
		fail "systemd-analyze security harmony-fleet.service: exposure $score is above FLEET_SECURITY_MAX=$FLEET_SECURITY_MAX"
	ok "systemd-analyze verify harmony-fleet.service (exposure $score, at most $FLEET_SECURITY_MAX)"
}

check_lintian() {
	need_packages lintian
	# Every override is preceded by a comment block giving its reason.
	awk '
		/^#/      { reason = 1; next }
		/^[ \t]*$/ { reason = 0; next }
		!reason   { printf "line %d: override without a reason: %s\n", NR, $0; bad = 1 }
		END       { exit bad }' packaging/deb/lintian-overrides ||
		fail "packaging/deb/lintian-overrides: give every override a comment"
	awk '
		/^#/      { reason = 1; next }
		/^[ \t]*$/ { reason = 0; next }
		!reason   { printf "line %d: override without a reason: %s\n", NR, $0; bad = 1 }
		END       { exit bad }' packaging/deb-fleet/lintian-overrides ||
		fail "packaging/deb-fleet/lintian-overrides: give every override a comment"
	local debs=() arch out
	for arch in $ARCHS; do debs+=("$(deb_of "$arch")" "$(deb_of "$arch" "$FLEET_PKG")"); done
	# Errors and warnings fail; information and pedantic tags are shown.
	local rc=0
	out="$(lintian --fail-on error,warning --tag-display-limit 0 -I --pedantic "${debs[@]}" 2>&1)" || rc=$?
	out="$(grep -v 'running with root privileges is not recommended' <<<"$out" || true)"
	[ "$rc" -eq 0 ] || fail "lintian (exit $rc):"$'\n'"$out"
	[ -z "$out" ] || printf '%s\n' "$out"
	ok "lintian on ${#debs[@]} .debs: no errors or warnings"
}

check_binaries() {
	need_packages qemu-user-static file
	local arch cmd bin qemu desc want root out
	for arch in $ARCHS; do
		qemu="$(qemu_for "$arch")"
		[ -z "$qemu" ] || command -v "$qemu" >/dev/null || fail "$qemu not found"
		root="$work/bin-$arch"
		mkdir -p "$root"
		dpkg-deb -x "$(deb_of "$arch")" "$root"
		[ ! -e "$root/usr/bin/harmony-fleet" ] || fail "the device .deb of $arch carries harmony-fleet"
		dpkg-deb -x "$(deb_of "$arch" "$FLEET_PKG")" "$root"
		case "$arch" in
			amd64) want="x86-64" ;;
			arm64) want="ARM aarch64" ;;
			armv7) want="ARM, EABI5" ;;
		esac
		for cmd in $CMDS; do
			bin="$(bin_path "$cmd" "$arch")"
			cmp -s "$bin" "$root/usr/bin/$cmd" || fail "$root/usr/bin/$cmd in the .deb differs from $bin"
			desc="$(file -b "$bin")"
			[[ "$desc" == *"$want"* ]] || fail "$bin is not $want: $desc"
			[[ "$desc" == *"statically linked"* ]] || fail "$bin is not static: $desc"
			# A clean environment: no HARMONY_AGENT_* of the caller's.
			out="$(env -i PATH=/usr/bin:/bin ${qemu:+"$qemu"} "$bin" version)" ||
				fail "$cmd version on $arch: $out"
			[[ "$out" == "$cmd $VERSION (commit $COMMIT, built "* ]] ||
				fail "$cmd version on $arch printed \"$out\", want \"$cmd $VERSION (commit $COMMIT, ...\""
		done
		cmp -s configs/agent.yaml "$root/etc/$PKG/agent.yaml" || fail "the .deb's agent.yaml differs from configs/agent.yaml"
		out="$(env -i PATH=/usr/bin:/bin ${qemu:+"$qemu"} "$root/usr/bin/harmony-agent" \
			check-config --config "$root/etc/$PKG/agent.yaml" 2>&1)" ||
			fail "harmony-agent check-config on $arch: $out"
		ok "$arch${qemu:+ (under $qemu)}: $CMDS static $want, version and check-config run"
	done
}

# --- install ---------------------------------------------------------------

# chroot_tar prints a tarball of a minimal system of SUITE (the Essential
# packages: dpkg, dash, perl-base, init-system-helpers, ...; no systemd),
# made once a week.
chroot_tar() {
	local tar="$CACHE/$SUITE-essential.tar"
	if [ -z "$(find "$tar" -mtime -7 2>/dev/null)" ]; then
		need_packages mmdebstrap
		mkdir -p "$CACHE"
		log "creating $tar (mmdebstrap, once a week)"
		# The .tar ending tells mmdebstrap to write a tarball.
		mmdebstrap --quiet --mode=root --variant=essential "$SUITE" "$CACHE/partial.tar" >&2 ||
			fail "mmdebstrap $SUITE failed (it needs the Debian mirror)"
		mv "$CACHE/partial.tar" "$tar"
	fi
	echo "$tar"
}

# in_chroot runs a command in the chroot with a clean environment.
in_chroot() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

# dpkg_run runs dpkg in the chroot (stdin closed: a conffile prompt fails)
# and fails on an error, a warning or a missing command in its output.
dpkg_run() {
	local out
	out="$(in_chroot dpkg "$@" </dev/null 2>&1)" || fail "dpkg $*:"$'\n'"$out"
	if grep -iE 'error|warning|not found|no such file|cannot|unable|dpkg-old|dpkg-dist' <<<"$out"; then
		fail "dpkg $* printed the lines above:"$'\n'"$out"
	fi
	printf '%s\n' "$out" >>"$work/dpkg.log"
}

# upgrade_version prints the version of the upgrade repack makes.
upgrade_version() { local v; v="$(deb_version)"; echo "${v%-*}+upgrade-1"; }

# repack makes a copy of a .deb with another version (an upgrade to test);
# uncompressed, since it only lives for the test.
repack() {
	local src="$1" version="$2" dst="$3" dir="$work/repack"
	rm -rf "$dir"
	dpkg-deb -R "$src" "$dir"
	sed -i "s/^Version: .*/Version: $version/" "$dir/DEBIAN/control"
	dpkg-deb --root-owner-group -Znone --build "$dir" "$dst" >/dev/null
}

expect() { [ "$@" ] || fail "expected [ $* ] in the chroot"; }
expect_mode() {
	local got
	got="$(stat -c '%a %U:%G' "$R$1")"
	[ "$got" = "$2" ] || fail "$1: mode and owner $got, want $2"
}
installed_version() { in_chroot dpkg-query -W -f='${Status} ${Version}' "$PKG" 2>/dev/null || true; }
# systemd_links prints the chroot's symlinks and state files that name the unit.
systemd_links() {
	(cd "$R" && find etc/systemd var/lib/systemd -name 'harmony-agent*' 2>/dev/null | LC_ALL=C sort) || true
}

# install_cycle installs, upgrades, removes, reinstalls and purges the
# package in a fresh chroot. $1 is
#   no-systemd   no systemctl at all: deb-systemd-helper makes the links;
#   not-running  a systemctl that records its calls, but systemd is not
#                running: only deb-systemd-helper's offline "preset" may
#                call it;
#   running      the same, with /run/systemd/system: daemon-reload, start
#                on install, restart on upgrade, stop on remove.
install_cycle() {
	local mode="$1" v1 v2 wants mask log
	v1="$(deb_version)"
	v2="$(upgrade_version)"
	wants="$R/etc/systemd/system/multi-user.target.wants/harmony-agent.service"
	mask="$R/etc/systemd/system/harmony-agent.service"
	log="$R/tmp/systemctl.log"
	[ "$mode" != running ] || mkdir -p "$R/run/systemd/system"
	if [ "$mode" != no-systemd ]; then
		cat >"$R/usr/bin/systemctl" <<-'EOF'
			#!/bin/sh
			# A stand-in for systemctl: records the call, reports units enabled.
			echo "$*" >>/tmp/systemctl.log
			echo "$*" >>/tmp/systemctl.all
			case "$*" in *is-enabled*) echo enabled ;; esac
			exit 0
		EOF
		chmod 0755 "$R/usr/bin/systemctl"
	fi
	: >"$log"

	# Install.
	dpkg_run -i /tmp/v1.deb
	expect "$(installed_version)" = "install ok installed $v1"
	for cmd in $AGENT_CMDS; do expect_mode "/usr/bin/$cmd" "755 root:root"; done
	expect ! -e "$R/usr/bin/harmony-fleet"
	expect_mode /etc/harmony-agent "750 root:root"
	expect_mode /etc/harmony-agent/agent.yaml "640 root:root"
	expect_mode /etc/default/harmony-agent "644 root:root"
	expect_mode /usr/lib/systemd/system/harmony-agent.service "644 root:root"
	for f in copyright changelog.Debian.gz README.md examples/rootless.conf; do
		expect -f "$R/usr/share/doc/$PKG/$f"
	done
	cmp -s configs/agent.yaml "$R/etc/harmony-agent/agent.yaml" || fail "installed agent.yaml differs from configs/agent.yaml"
	in_chroot dpkg --verify "$PKG" || fail "dpkg --verify $PKG after installation"
	in_chroot harmony-agent check-config >/dev/null || fail "harmony-agent check-config in the chroot"
	if [ "$mode" = no-systemd ]; then
		# deb-systemd-helper makes the links itself: the image boots enabled.
		expect -L "$wants"
	elif [ "$mode" = not-running ]; then
		grep -qx -- '--root=/ --system --preset-mode=enable-only preset harmony-agent.service' "$log" ||
			fail "install: not enabled (systemctl preset): $(cat "$log")"
	else
		grep -qx -- '--system daemon-reload' "$log" || fail "install: no systemctl daemon-reload: $(cat "$log")"
		grep -q 'preset harmony-agent.service' "$log" || fail "install: not enabled (systemctl preset): $(cat "$log")"
		grep -qx -- '--quiet --system start harmony-agent.service' "$log" || fail "install: not started: $(cat "$log")"
	fi

	# Upgrade, over a changed conffile and some state.
	echo '# changed here' >>"$R/etc/harmony-agent/agent.yaml"
	mkdir -p "$R/var/lib/harmony-agent/process"
	echo 1 >"$R/var/lib/harmony-agent/epoch"
	: >"$log"
	dpkg_run -i /tmp/v2.deb
	expect "$(installed_version)" = "install ok installed $v2"
	expect "$(tail -1 "$R/etc/harmony-agent/agent.yaml")" = "# changed here"
	expect ! -e "$R/etc/harmony-agent/agent.yaml.dpkg-dist"
	expect -f "$R/var/lib/harmony-agent/epoch"
	if [ "$mode" = no-systemd ]; then
		expect -L "$wants"
	elif [ "$mode" = running ]; then
		grep -qx -- '--quiet --system restart harmony-agent.service' "$log" || fail "upgrade: not restarted: $(cat "$log")"
		! grep -q ' stop ' "$log" || fail "upgrade: the agent was stopped: $(cat "$log")"
	fi

	# Remove: the conffiles and the state stay, the unit is masked.
	: >"$log"
	dpkg_run -r "$PKG"
	expect "$(installed_version)" = "deinstall ok config-files $v2"
	for cmd in $AGENT_CMDS; do expect ! -e "$R/usr/bin/$cmd"; done
	expect ! -e "$R/usr/lib/systemd/system/harmony-agent.service"
	expect -f "$R/etc/harmony-agent/agent.yaml"
	expect -f "$R/etc/default/harmony-agent"
	expect -f "$R/var/lib/harmony-agent/epoch"
	expect "$(readlink "$mask")" = /dev/null
	if [ "$mode" = running ]; then
		grep -qx -- 'stop harmony-agent.service' "$log" || fail "remove: not stopped: $(cat "$log")"
	fi

	# Reinstall: unmasked and enabled again, the changed conffile kept.
	dpkg_run -i /tmp/v2.deb
	expect ! -e "$mask"
	[ "$mode" != no-systemd ] || expect -L "$wants"
	expect "$(tail -1 "$R/etc/harmony-agent/agent.yaml")" = "# changed here"

	# Purge: nothing of the package is left.
	: >"$log"
	dpkg_run -P "$PKG"
	expect -z "$(installed_version | grep -v '^unknown ok not-installed')"
	expect ! -e "$R/etc/harmony-agent"
	expect ! -e "$R/etc/default/harmony-agent"
	expect ! -e "$R/var/lib/harmony-agent"
	expect -z "$(systemd_links)"
	if [ "$mode" = running ]; then
		grep -qx -- '--system daemon-reload' "$log" || fail "purge: no systemctl daemon-reload: $(cat "$log")"
	fi
	if [ "$mode" = not-running ] && grep -v -- '^--root=/ ' "$R/tmp/systemctl.all"; then
		fail "systemctl called although systemd is not running (lines above)"
	fi
	ok "install ($mode): install, upgrade over a changed conffile, remove, reinstall, purge in a $SUITE chroot"
}

check_install() {
	[ -n "$SUITE" ] || fail "cannot tell this host's Debian release; set SUITE"
	# One chroot for the three cycles: each one ends with a purge that
	# must leave nothing behind, and each adds to the previous set-up.
	R="$work/chroot"
	mkdir -p "$R"
	tar -xf "$(chroot_tar)" -C "$R"
	cp "$(deb_of "$(host_arch)")" "$R/tmp/v1.deb"
	repack "$R/tmp/v1.deb" "$(upgrade_version)" "$R/tmp/v2.deb"
	install_cycle no-systemd
	install_cycle not-running
	install_cycle running
}

check_sizes() {
	local arch cmd
	printf 'packaging/test: sizes (bytes):\n'
	for arch in $ARCHS; do
		for cmd in $CMDS; do
			printf '  %-28s %10d\n' "$(basename "$(bin_path "$cmd" "$arch")")" "$(stat -c %s "$(bin_path "$cmd" "$arch")")"
		done
	done
	for arch in $ARCHS; do
		for pkg in "$PKG" "$FLEET_PKG"; do
			printf '  %-28s %10d\n' "$(basename "$(deb_of "$arch" "$pkg")" | sed "s/_$(deb_version)_/_/")" "$(stat -c %s "$(deb_of "$arch" "$pkg")")"
		done
	done
}

# Every .deb must exist before any check runs (deb_of is later called in
# $(...), where its failure would not stop the script).
for arch in $ARCHS; do deb_of "$arch" >/dev/null && deb_of "$arch" "$FLEET_PKG" >/dev/null; done
for check in $CHECKS; do
	case "$check" in
		unit | lintian | binaries | install | sizes) "check_$check" ;;
		*) die "unknown check $check (want unit, lintian, binaries, install or sizes)" ;;
	esac
done
