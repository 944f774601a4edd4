#!/usr/bin/env bash
# deb.sh builds DIST/harmony-agent_<version>_<arch>.deb (devices) and
# DIST/harmony-fleet_<version>_<arch>.deb (central hosts) for every arch in
# ARCHS (amd64, arm64, armhf) with dpkg-deb alone, from the binaries that
# dist.sh put in DIST (make deb builds them first), then rewrites
# DIST/SHA256SUMS.
#
# harmony-agent contents (mode, owner root:root):
#   /usr/bin/<command>                              0755 each of AGENT_CMDS (not harmony-fleet)
#   /usr/lib/systemd/system/harmony-agent.service   packaging/systemd/
#   /etc/harmony-agent/                             0750
#   /etc/harmony-agent/agent.yaml                   0640 conffile: configs/agent.yaml
#   /etc/default/harmony-agent                      0644 conffile: packaging/deb/default
#   /usr/share/doc/harmony-agent/copyright          DEP-5, generated (copyright.sh)
#   /usr/share/doc/harmony-agent/changelog.Debian.gz
#   /usr/share/doc/harmony-agent/README.md          packaging/README.md
#   /usr/share/doc/harmony-agent/examples/rootless.conf
#   /usr/share/man/man8/harmony-agent.8.gz, man1/harmony-fleet.1.gz
#   /usr/share/lintian/overrides/harmony-agent      packaging/deb/lintian-overrides
# and the maintainer scripts postinst, prerm and postrm of packaging/deb/.
#
# harmony-fleet contents:
#   /usr/bin/harmony-fleet                          0755
#   /usr/lib/systemd/system/harmony-fleet.service   packaging/systemd/ (not enabled)
#   /etc/default/harmony-fleet                      0644 conffile: packaging/deb-fleet/default
#   /usr/share/doc/harmony-fleet/copyright, changelog.Debian.gz
#   /usr/share/man/man1/harmony-fleet.1.gz
#   /usr/share/lintian/overrides/harmony-fleet      packaging/deb-fleet/lintian-overrides
# File times are clamped to the commit time (SOURCE_DATE_EPOCH).
#
# Usage: scripts/packaging/deb.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"
version="$(deb_version)"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# manpage renders packaging/man/<cmd>.<section>.in with the usage text the
# command prints for "help", run from the host's own build.
manpage() {
	local cmd="$1" in="$2" out="$3" bin usage
	bin="$(bin_path "$cmd" "$(host_arch)")"
	[ -x "$bin" ] || die "$bin missing: run dist.sh for $(host_arch) too"
	# Backslashes, leading dots and quotes are troff syntax; "-" is a hyphen
	# in troff, and options need the minus sign "\-".
	usage="$("$bin" help | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/")"
	awk -v usage="$usage" -v date="$(commit_date +%Y-%m-%d)" -v version="$version" '
		$0 == "@USAGE@" { print usage; next }
		{ gsub(/@DATE@/, date); gsub(/@VERSION@/, version); print }' "$in" |
		gzip -9n >"$out"
}

# changelog writes the one-entry changelog.Debian.gz of this build of
# package $2 (default PKG).
changelog() {
	{
		printf '%s (%s) unstable; urgency=medium\n\n' "${2:-$PKG}" "$version"
		printf '  * Build of commit %s (git describe: %s).\n\n' "$COMMIT" "$VERSION"
		printf ' -- %s  %s\n' "$MAINTAINER" "$(commit_date -R)"
	} | gzip -9n >"$1"
}

build() {
	local arch="$1" darch root doc cmd page section out
	darch="$(deb_arch "$arch")"
	root="$work/$darch"
	doc="$root/usr/share/doc/$PKG"
	log "$PKG $version $darch"

	install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" \
		"$root/etc/default" "$doc/examples" "$root/usr/share/lintian/overrides"
	install -d -m 0750 "$root/etc/$PKG"

	local bins=()
	for cmd in $AGENT_CMDS; do
		[ -x "$(bin_path "$cmd" "$arch")" ] || die "$(bin_path "$cmd" "$arch") missing: run dist.sh first"
		install -m 0755 "$(bin_path "$cmd" "$arch")" "$root/usr/bin/$cmd"
		bins+=("$root/usr/bin/$cmd")
		page="$(ls packaging/man/"$cmd".[1-8].in 2>/dev/null | head -1)"
		[ -n "$page" ] || die "no man page template packaging/man/$cmd.<section>.in for $cmd"
		section="${page%.in}"
		section="${section##*.}"
		install -d -m 0755 "$root/usr/share/man/man$section"
		manpage "$cmd" "$page" "$root/usr/share/man/man$section/$cmd.$section.gz"
	done

	install -m 0644 packaging/systemd/harmony-agent.service "$root/usr/lib/systemd/system/"
	install -m 0640 configs/agent.yaml "$root/etc/$PKG/agent.yaml"
	install -m 0644 packaging/deb/default "$root/etc/default/$PKG"
	scripts/packaging/copyright.sh "${bins[@]}" >"$doc/copyright"
	chmod 0644 "$doc/copyright"
	changelog "$doc/changelog.Debian.gz"
	install -m 0644 packaging/README.md "$doc/README.md"
	install -m 0644 packaging/systemd/rootless.conf "$doc/examples/rootless.conf"
	install -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/$PKG"

	install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
	install -m 0644 packaging/deb/conffiles "$root/DEBIAN/conffiles"
	# md5sums of every file but the conffiles (dpkg tracks those itself).
	(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' |
		LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/md5sums"
	local control
	control="$(<packaging/deb/control.in)"
	control="${control//@VERSION@/$version}"
	control="${control//@ARCH@/$darch}"
	control="${control//@MAINTAINER@/$MAINTAINER}"
	control="${control//@INSTALLED_SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)}"
	printf '%s\n' "$control" >"$root/DEBIAN/control"

	find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	out="$(deb_path "$arch")"
	rm -f "$DIST/${PKG}_"*"_$darch.deb"
	dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
}

# manpage_of installs the man page of cmd under root.
manpage_of() {
	local cmd="$1" root="$2" page section
	page="$(ls packaging/man/"$cmd".[1-8].in 2>/dev/null | head -1)"
	[ -n "$page" ] || die "no man page template packaging/man/$cmd.<section>.in for $cmd"
	section="${page%.in}"
	section="${section##*.}"
	install -d -m 0755 "$root/usr/share/man/man$section"
	manpage "$cmd" "$page" "$root/usr/share/man/man$section/$cmd.$section.gz"
}

# build_fleet builds the harmony-fleet package of arch.
build_fleet() {
	local arch="$1" darch root doc bin out control
	darch="$(deb_arch "$arch")"
	root="$work/fleet-$darch"
	doc="$root/usr/share/doc/$FLEET_PKG"
	log "$FLEET_PKG $version $darch"
	bin="$(bin_path "$FLEET_CMDS" "$arch")"
	[ -x "$bin" ] || die "$bin missing: run dist.sh first"

	install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" \
		"$root/etc/default" "$doc" "$root/usr/share/lintian/overrides"
	install -m 0755 "$bin" "$root/usr/bin/$FLEET_CMDS"
	manpage_of "$FLEET_CMDS" "$root"
	install -m 0644 packaging/systemd/harmony-fleet.service "$root/usr/lib/systemd/system/"
	install -m 0644 packaging/deb-fleet/default "$root/etc/default/$FLEET_PKG"
	scripts/packaging/copyright.sh "$root/usr/bin/$FLEET_CMDS" >"$doc/copyright"
	chmod 0644 "$doc/copyright"
	changelog "$doc/changelog.Debian.gz" "$FLEET_PKG"
	install -m 0644 packaging/deb-fleet/lintian-overrides "$root/usr/share/lintian/overrides/$FLEET_PKG"
	install -m 0644 packaging/deb-fleet/conffiles "$root/DEBIAN/conffiles"
	(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' |
		LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/md5sums"
	control="$(<packaging/deb-fleet/control.in)"
	control="${control//@VERSION@/$version}"
	control="${control//@ARCH@/$darch}"
	control="${control//@MAINTAINER@/$MAINTAINER}"
	control="${control//@INSTALLED_SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)}"
	printf '%s\n' "$control" >"$root/DEBIAN/control"

	find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	out="$(deb_path "$arch" "$FLEET_PKG")"
	rm -f "$DIST/${FLEET_PKG}_"*"_$darch.deb"
	dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
}

mkdir -p "$DIST"
for arch in $ARCHS; do
	build "$arch"
	build_fleet "$arch"
done
write_sums
for arch in $ARCHS; do
	for pkg in "$PKG" "$FLEET_PKG"; do
		log "wrote $(deb_path "$arch" "$pkg") ($(du -k "$(deb_path "$arch" "$pkg")" | cut -f1) KiB)"
	done
done
