#!/usr/bin/env bash
# env.sh makes sure a headless Chromium is installed for the dashboard's
# browser test (internal/api), idempotently.
#
# Usage (as root, or with chromium already installed):
#   eval "$(scripts/browser/env.sh)"
#
# It installs Debian's chromium with apt-get when no Chromium is found
# (CHROME_PATH, chromium, chromium-browser) and prints
# `export CHROME_PATH=...`. Only the export line goes to stdout; progress
# goes to stderr.
set -euo pipefail

log() { printf 'browser-env: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_chrome() {
	if [ -n "${CHROME_PATH:-}" ] && [ -x "$CHROME_PATH" ]; then
		echo "$CHROME_PATH"
		return 0
	fi
	command -v chromium || command -v chromium-browser
}

if ! path="$(find_chrome)"; then
	[ "$(id -u)" -eq 0 ] || die "chromium is not installed and installing it needs root (apt-get install chromium)"
	log "installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update >&2
	apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium >&2
	path="$(find_chrome)" || die "chromium not found after install"
fi
printf 'export CHROME_PATH=%q\n' "$path"
