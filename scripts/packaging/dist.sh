#!/usr/bin/env bash
# dist.sh builds the release binaries: every command in CMDS for every
# architecture in ARCHS (linux amd64, arm64 and armv7 by default), static
# (CGO_ENABLED=0), -trimpath, stamped with VERSION, COMMIT and DATE, without
# the embednats tag, into DIST/<command>-linux-<arch>, then writes
# DIST/SHA256SUMS. It removes the .debs of earlier builds (deb.sh makes new
# ones). See lib.sh for the inputs; make dist is the usual caller.
#
# Usage: scripts/packaging/dist.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -p "$DIST"
rm -f "$DIST/${PKG}_"*.deb
for arch in $ARCHS; do
	for cmd in $CMDS; do
		out="$(bin_path "$cmd" "$arch")"
		log "$cmd linux/$arch"
		# One go build per binary: the build cache shares the packages.
		# shellcheck disable=SC2046 # goarch_env is a list of assignments
		env CGO_ENABLED=0 GOOS=linux $(goarch_env "$arch") \
			"$GO" build -trimpath -ldflags="$LDFLAGS" -o "$out.tmp" "./cmd/$cmd"
		mv "$out.tmp" "$out"
	done
done
write_sums
log "wrote $(cd "$DIST" && ls -- *-linux-* | wc -l) binaries and SHA256SUMS to $DIST"
