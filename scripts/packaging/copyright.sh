#!/usr/bin/env bash
# copyright.sh writes the machine-readable (DEP-5) copyright file of the
# .deb to stdout: packaging/deb/copyright.in, with a Files paragraph for the
# Go standard library and for every Go module compiled into the binaries
# given, as recorded in them (go version -m). Each paragraph names the
# module's licence and, unless it is Apache-2.0 (in common-licenses),
# carries the module's licence text, copyright lines included: MIT and BSD
# ask for both to ship with every binary copy. A licence it cannot
# recognise stops the build, so a new dependency is looked at.
#
# Usage: scripts/packaging/copyright.sh BINARY... >copyright
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$#" -gt 0 ] || die "usage: $0 BINARY..."
MODCACHE="$("$GO" env GOMODCACHE)"
GOROOT_DIR="$("$GO" env GOROOT)"

# modules prints "path version" for every module in the binaries, a
# replacement in place of what it replaces, sorted and unique.
modules() {
	local b
	for b in "$@"; do
		"$GO" version -m "$b" | awk '
			$1 == "dep" { if (p != "") print p, v; p = $2; v = $3 }
			$1 == "=>"  { p = $2; v = $3 }
			END         { if (p != "") print p, v }'
	done | LC_ALL=C sort -u
}

# escape applies the module cache's case encoding (Foo -> !foo).
# shellcheck disable=SC2001 # \L needs sed
escape() { sed 's/[A-Z]/!\L&/g' <<<"$1"; }

# licence_file prints a module directory's licence file.
licence_file() {
	find "$1" -maxdepth 1 -type f -regextype posix-extended \
		-iregex '.*/(licen[cs]e|copying)(\.(txt|md))?' | LC_ALL=C sort | head -1
}

# classify prints the DEP-5 short name of a licence text; a file that
# holds several licences (parts of the module under each) gets them all,
# joined with "and".
classify() {
	local f="$1" names=()
	if grep -q 'Apache License' "$f" && grep -q 'Version 2\.0' "$f"; then names+=(Apache-2.0); fi
	if grep -q 'Permission is hereby granted, free of charge' "$f"; then names+=(Expat); fi
	if grep -q 'Redistribution and use in source and binary forms' "$f"; then
		if grep -qi 'neither the name' "$f"; then names+=(BSD-3-clause); else names+=(BSD-2-clause); fi
	fi
	if grep -q 'Mozilla Public License' "$f" && grep -q 'Version 2\.0' "$f"; then names+=(MPL-2.0); fi
	if grep -q 'Permission to use, copy, modify, and/or distribute' "$f"; then names+=(ISC); fi
	[ "${#names[@]}" -gt 0 ] || return 1
	local IFS=$'\n'
	sed ':a;N;$!ba;s/\n/ and /g' <<<"${names[*]}"
}

# holders prints the copyright lines of the given files, one per line,
# without the word Copyright and the (c) sign.
holders() {
	cat "$@" 2>/dev/null | sed -n -E 's/^[[:space:]]*Copyright[[:space:]]+(\([cC]\)|©)?[[:space:]]*//p' |
		grep -viE 'notice|owner|holder|^\[yyyy\]|^$' | sed -E 's/[[:space:]]+$//' | awk '!seen[$0]++' || true
}

# without_apache_text prints a licence file with the full text of the
# Apache License 2.0 (its terms and appendix), where a multi-licence file
# carries it, replaced by a pointer to common-licenses.
without_apache_text() {
	awk '
		{ line[NR] = $0 }
		END {
			for (i = 1; i <= NR; i++) {
				if (!start && line[i] ~ /^[[:space:]]*Apache License[[:space:]]*$/ && line[i+1] ~ /Version 2\.0, January 2004/) start = i
				if (start && !end && line[i] ~ /END OF TERMS AND CONDITIONS/) end = i
			}
			if (start && end) {
				for (i = end + 1; i <= end + 30 && i <= NR; i++)
					if (line[i] ~ /limitations under the License\./) { end = i; break }
			} else start = end = 0
			for (i = 1; i <= NR; i++) {
				if (start && i == start) print "[The Apache License, Version 2.0: see /usr/share/common-licenses/Apache-2.0]"
				if (start && i >= start && i <= end) continue
				print line[i]
			}
		}' "$1"
}

# paragraph prints one Files paragraph: the name under go/, the copyright
# lines, the licence, the licence file (its text is included unless it is
# in common-licenses) and a comment.
paragraph() {
	local name="$1" copyright="$2" licence="$3" file="$4" comment="$5"
	printf 'Files: go/%s/*\n' "$name"
	printf 'Copyright: %s\n' "$(sed '2,$s/^/ /' <<<"$copyright")"
	printf 'License: %s\n' "$licence"
	case "$licence" in
		Apache-2.0 | MPL-2.0) ;;
		*) without_apache_text "$file" | sed -E -e 's/[[:space:]]+$//' -e 's/^$/./' -e 's/^/ /' ;;
	esac
	printf 'Comment: %s\n\n' "$comment"
}

deps="$(
	gover="$("$GO" version -m "$1" | sed -n '1s/.*: //p')"
	paragraph std "2009 The Go Authors" "$(classify "$GOROOT_DIR/LICENSE")" \
		"$GOROOT_DIR/LICENSE" "the Go standard library and runtime, $gover"
	while read -r path version; do
		dir="$MODCACHE/$(escape "$path")@$(escape "$version")"
		[ -d "$dir" ] || die "module $path $version is not in $MODCACHE (go mod download $path@$version)"
		file="$(licence_file "$dir")"
		[ -n "$file" ] || die "module $path $version has no licence file in $dir"
		licence="$(classify "$file")" || die "cannot recognise the licence of $path $version ($file); add it to $0"
		copyright="$(holders "$file" "$dir"/NOTICE*)"
		[ -n "$copyright" ] || copyright="the $path authors"
		paragraph "$path" "$copyright" "$licence" "$file" "$path $version"
	done < <(modules "$@")
)"

awk -v deps="$deps" '$0 == "@DEPENDENCIES@" { print deps; next } { print }' packaging/deb/copyright.in
