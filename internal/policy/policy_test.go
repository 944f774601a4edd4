package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func TestCheck(t *testing.T) {
	base := Policy{
		DefaultUser:  "harmony-app",
		ProcessUsers: []string{"harmony-app", "1000:1000"},
		VolumePaths:  []string{"/srv", "/var/lib/app/"},
		PodmanSocket: "/run/podman/podman.sock",
		Registries:   []string{"docker.io/library", "registry.example.net/"},
	}
	proc := func(user string) fleet.DeploymentSpec {
		return fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "60"}, User: user}
	}
	pod := func(image string, vols []string, ports ...int) fleet.DeploymentSpec {
		s := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: image}
		for _, v := range vols {
			s.Volumes = append(s.Volumes, fleet.VolumeMount{HostPath: v, ContainerPath: "/data"})
		}
		for _, p := range ports {
			s.Ports = append(s.Ports, fleet.PortMapping{HostPort: p, ContainerPort: 80, Protocol: "tcp"})
		}
		return s
	}
	const nginx = "docker.io/library/nginx:1.27"
	tests := []struct {
		name   string
		policy Policy
		spec   fleet.DeploymentSpec
		want   string // substring of the error; "" means allowed
	}{
		{"default user", base, proc(""), ""},
		{"listed user", base, proc("harmony-app"), ""},
		{"listed uid:gid", base, proc("1000:1000"), ""},
		{"root not listed", base, proc("root"), `user: "root" is root, allowed only when policy.process.users lists it`},
		{"uid 0 not listed", base, proc("0:0"), `user: "0:0" is root`},
		{"uid 000 not listed", base, proc("000:5"), `user: "000:5" is root`},
		{"other user", base, proc("www-data"), `user: "www-data" is not in policy.process.users (allowed: harmony-app, 1000:1000)`},
		{"root listed", Policy{ProcessUsers: []string{"root"}}, proc("root"), ""},
		{"no user at all", Policy{}, proc(""), "user: no user to run as"},
		{"default user not listed", Policy{DefaultUser: "nobody"}, proc(""), `user: "nobody" is not in policy.process.users (allowed: none)`},

		{"image from a listed registry", base, pod(nginx, nil), ""},
		{"image from a listed prefix with slash", base, pod("registry.example.net/team/app:1", nil), ""},
		{"image digest at the prefix", Policy{Registries: []string{"localhost/app"}}, pod("localhost/app@sha256:abc", nil), ""},
		{"image from another registry", base, pod("quay.io/evil/miner:latest", nil), `image: "quay.io/evil/miner:latest" is not from a registry in policy.podman.registries`},
		{"image under a lookalike host", Policy{Registries: []string{"docker.io"}}, pod("docker.io.evil.example/x", nil), "is not from a registry"},
		{"short name with registries set", base, pod("nginx", nil), "is not from a registry"},
		{"any image without registries", Policy{}, pod("quay.io/x/y", nil), ""},

		{"volume under a listed path", base, pod(nginx, []string{"/srv/web"}), ""},
		{"volume equal to a listed path", base, pod(nginx, []string{"/srv"}), ""},
		{"volume under a listed path with slash", base, pod(nginx, []string{"/var/lib/app/db"}), ""},
		{"volume at a lookalike path", base, pod(nginx, []string{"/srvx"}), `volumes[0].host_path: "/srvx" is not under policy.podman.volume_paths (allowed: /srv, /var/lib/app/)`},
		{"volume escaping with ..", base, pod(nginx, []string{"/srv/../etc"}), `"/srv/../etc" is not under`},
		{"volume of /", base, pod(nginx, []string{"/"}), `volumes[0].host_path: "/" is refused unless policy.podman.volume_paths lists "/"`},
		{"volume of / when / is listed", Policy{VolumePaths: []string{"/"}}, pod(nginx, []string{"/"}), ""},
		{"volume of the socket", Policy{VolumePaths: []string{"/run"}, PodmanSocket: "/run/podman/podman.sock"}, pod(nginx, []string{"/run/podman/podman.sock"}), "holds the podman socket /run/podman/podman.sock"},
		{"volume of the socket's directory", Policy{VolumePaths: []string{"/run"}, PodmanSocket: "/run/podman/podman.sock"}, pod(nginx, []string{"/run/podman"}), `"/run/podman" holds the podman socket`},
		{"volume of the socket listed exactly", Policy{VolumePaths: []string{"/run/podman/podman.sock"}, PodmanSocket: "/run/podman/podman.sock"}, pod(nginx, []string{"/run/podman/podman.sock"}), ""},
		{"socket under / listed", Policy{VolumePaths: []string{"/"}, PodmanSocket: "/run/podman/podman.sock"}, pod(nginx, []string{"/run/podman/podman.sock"}), "holds the podman socket"},
		{"no volume paths", Policy{}, pod(nginx, []string{"/srv"}), "(allowed: none)"},

		{"high port", base, pod(nginx, nil, 8080), ""},
		{"port 1024", base, pod(nginx, nil, 1024), ""},
		{"port 22", base, pod(nginx, nil, 22), "ports[0].host_port: 22 is below 1024 and policy.podman.low_ports is false"},
		{"port 80 allowed", Policy{LowPorts: true}, pod(nginx, nil, 80), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.spec)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check() = %v, want an error containing %q", err, tt.want)
			case err != nil && !errors.Is(err, ErrRefused):
				t.Errorf("Check() = %v, want it to wrap ErrRefused", err)
			}
		})
	}
}

func TestCheckJoinsEveryRule(t *testing.T) {
	s := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "quay.io/x",
		Volumes: []fleet.VolumeMount{{HostPath: "/", ContainerPath: "/h"}},
		Ports:   []fleet.PortMapping{{HostPort: 22, ContainerPort: 22, Protocol: "tcp"}}}
	err := Policy{Registries: []string{"docker.io"}}.Check(s)
	for _, want := range []string{"image:", "volumes[0].host_path:", "ports[0].host_port:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check() = %v, want it to name %q", err, want)
		}
	}
}

func TestUser(t *testing.T) {
	p := Policy{DefaultUser: "nobody"}
	if got := p.User(fleet.DeploymentSpec{}); got != "nobody" {
		t.Errorf("User(no user) = %q, want nobody", got)
	}
	if got := p.User(fleet.DeploymentSpec{User: "app"}); got != "app" {
		t.Errorf("User(app) = %q, want app", got)
	}
}
