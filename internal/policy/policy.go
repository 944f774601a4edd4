package policy

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// ErrRefused is wrapped by every error Check returns.
var ErrRefused = errors.New("policy: refused")

// Policy is a device's policy, from the agent's config (policy.* and
// runtime.process.default_user). The zero value refuses every process
// workload (no user may be used), every volume and every low port, and
// allows any registry.
type Policy struct {
	// DefaultUser is who a process workload runs as when its spec names no
	// user (runtime.process.default_user).
	DefaultUser string
	// ProcessUsers lists the users process workloads may run as, by name
	// or "uid:gid" exactly as specs name them. root (or uid 0) is allowed
	// only when listed as such.
	ProcessUsers []string
	// VolumePaths lists the host path prefixes podman volumes may mount; a
	// prefix covers itself and everything below it. "/" and the podman
	// socket (and the directories holding it) are refused unless listed
	// exactly.
	VolumePaths []string
	// PodmanSocket is the podman API socket's path, never mountable unless
	// listed.
	PodmanSocket string
	// Registries lists the image prefixes allowed ("docker.io/library",
	// "registry.example.net/"); empty allows any image.
	Registries []string
	// LowPorts allows host ports below 1024.
	LowPorts bool
}

// User returns who a process workload of s runs as: its spec's user, else
// DefaultUser.
func (p Policy) User(s fleet.DeploymentSpec) string {
	if s.User != "" {
		return s.User
	}
	return p.DefaultUser
}

// Check reports every rule of p that s breaks, each naming the rule, joined
// by "; "; nil when s is within the policy.
func (p Policy) Check(s fleet.DeploymentSpec) error {
	var errs []string
	switch s.Runtime {
	case fleet.RuntimeProcess:
		if err := p.checkUser(p.User(s)); err != "" {
			errs = append(errs, err)
		}
	case fleet.RuntimePodman:
		if err := p.checkImage(s.Image); err != "" {
			errs = append(errs, err)
		}
		for i, v := range s.Volumes {
			if err := p.checkVolume(v.HostPath); err != "" {
				errs = append(errs, fmt.Sprintf("volumes[%d].host_path: %s", i, err))
			}
		}
		for i, port := range s.Ports {
			if port.HostPort < 1024 && !p.LowPorts {
				errs = append(errs, fmt.Sprintf("ports[%d].host_port: %d is below 1024 and policy.podman.low_ports is false", i, port.HostPort))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrRefused, strings.Join(errs, "; "))
}

func (p Policy) checkUser(u string) string {
	if u == "" {
		return "user: no user to run as (set runtime.process.default_user or the spec's user)"
	}
	if slices.Contains(p.ProcessUsers, u) {
		return ""
	}
	what := "is not in policy.process.users"
	if isRoot(u) {
		what = "is root, allowed only when policy.process.users lists it"
	}
	return fmt.Sprintf("user: %q %s (allowed: %s)", u, what, list(p.ProcessUsers))
}

// isRoot reports whether u names the superuser by name or uid.
func isRoot(u string) bool {
	uid, _, _ := strings.Cut(u, ":")
	return u == "root" || strings.TrimLeft(uid, "0") == "" && uid != ""
}

func (p Policy) checkImage(image string) string {
	if len(p.Registries) == 0 {
		return ""
	}
	for _, r := range p.Registries {
		if underImagePrefix(image, r) {
			return ""
		}
	}
	return fmt.Sprintf("image: %q is not from a registry in policy.podman.registries (allowed: %s; name images in full, registry first)", image, list(p.Registries))
}

// underImagePrefix reports whether image starts with prefix at a name
// boundary: "docker.io" covers "docker.io/library/nginx" but not
// "docker.io.evil.example/nginx".
func underImagePrefix(image, prefix string) bool {
	if prefix == "" || !strings.HasPrefix(image, prefix) {
		return false
	}
	if strings.HasSuffix(prefix, "/") || len(image) == len(prefix) {
		return true
	}
	switch image[len(prefix)] {
	case '/', ':', '@':
		return true
	}
	return false
}

func (p Policy) checkVolume(hostPath string) string {
	clean := path.Clean(hostPath)
	if slices.Contains(p.VolumePaths, clean) {
		return "" // listed exactly: the operator meant it, "/" and the socket included
	}
	if clean == "/" {
		return `"/" is refused unless policy.podman.volume_paths lists "/"`
	}
	if p.PodmanSocket != "" && underPath(path.Clean(p.PodmanSocket), clean) {
		return fmt.Sprintf("%q holds the podman socket %s: refused unless policy.podman.volume_paths lists %q", hostPath, p.PodmanSocket, clean)
	}
	for _, allowed := range p.VolumePaths {
		if underPath(clean, path.Clean(allowed)) {
			return ""
		}
	}
	return fmt.Sprintf("%q is not under policy.podman.volume_paths (allowed: %s)", hostPath, list(p.VolumePaths))
}

// underPath reports whether p is dir or below it, as clean absolute paths.
func underPath(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
