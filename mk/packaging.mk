# Packaging: release binaries, .debs and their checks (issue 6).
# The logic is in scripts/packaging/; packaging/README.md is the user guide.
# Included by the Makefile, whose GO, VERSION, COMMIT, DATE and LDFLAGS
# the scripts receive.

# DIST is where binaries, .debs and SHA256SUMS go; ARCHS the architectures
# (linux/arm is built with GOARM=7 and packaged as armhf).
DIST  ?= dist
ARCHS ?= amd64 arm64 armv7
# VERSION, COMMIT and DATE are expanded once by the Makefile: dist, deb
# and test-packaging agree even if a commit lands in between.
PACKAGING_ENV = GO='$(GO)' VERSION='$(VERSION)' COMMIT='$(COMMIT)' \
	DATE='$(DATE)' LDFLAGS='$(LDFLAGS)' DIST='$(DIST)' ARCHS='$(ARCHS)'

.PHONY: dist
dist: ## static release binaries for linux amd64, arm64, armv7 into dist/, with SHA256SUMS
	@$(PACKAGING_ENV) scripts/packaging/dist.sh

.PHONY: deb
deb: dist ## the .debs (amd64, arm64, armhf) into dist/, built with dpkg-deb
	@$(PACKAGING_ENV) scripts/packaging/deb.sh

.PHONY: test-packaging
test-packaging: deb ## check the .debs: unit verify, lintian, qemu runs, install/upgrade/purge in a chroot (root)
	@$(PACKAGING_ENV) scripts/packaging/test.sh
