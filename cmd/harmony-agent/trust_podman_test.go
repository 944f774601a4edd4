//go:build embednats

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime/podman"
)

// TestPodmanPolicy: on a real podman, specs outside the device policy (a
// volume of "/" or of the podman socket, an image from a registry not
// listed, host port 22) are failed naming the rule and no container is
// created; a running container whose spec is replaced by one outside the
// policy keeps running, untouched.
func TestPodmanPolicy(t *testing.T) {
	p := newPodmanHarness(t)
	registry, _, _ := strings.Cut(p.image, "/")
	p.start(agentConfig{Extra: "policy:\n  podman:\n    volume_paths: [/srv]\n    registries: [" + registry + "/]\n"})
	edit := func(change func(*fleet.DeploymentSpec)) string {
		var s fleet.DeploymentSpec
		if err := json.Unmarshal([]byte(p.sleeper(nil)), &s); err != nil {
			t.Fatal(err)
		}
		change(&s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	web := p.name("web")
	p.put(web, p.sleeper(nil))
	p.waitState(web, fleet.PhaseRunning, "")
	before, ok := p.inspect(podman.ContainerName(web))
	if !ok || before.State.Status != "running" {
		t.Fatalf("web's container: %+v, %v; want running", before, ok)
	}

	tests := []struct {
		base   string
		change func(*fleet.DeploymentSpec)
		want   string
	}{
		{"mount-root", func(s *fleet.DeploymentSpec) {
			s.Volumes = []fleet.VolumeMount{{HostPath: "/", ContainerPath: "/host"}}
		}, `volumes[0].host_path: "/" is refused unless policy.podman.volume_paths lists "/"`},
		{"mount-socket", func(s *fleet.DeploymentSpec) {
			s.Volumes = []fleet.VolumeMount{{HostPath: p.socket, ContainerPath: "/run/podman.sock"}}
		}, "holds the podman socket " + p.socket},
		{"registry", func(s *fleet.DeploymentSpec) { s.Image = "docker.io/library/alpine:3" },
			`image: "docker.io/library/alpine:3" is not from a registry in policy.podman.registries`},
		{"port-22", func(s *fleet.DeploymentSpec) {
			s.Ports = []fleet.PortMapping{{HostPort: 22, ContainerPort: 22, Protocol: "tcp"}}
		}, "ports[0].host_port: 22 is below 1024 and policy.podman.low_ports is false"},
	}
	for _, tt := range tests {
		p.put(p.name(tt.base), edit(tt.change))
	}
	// The same rule breaking the running deployment's new value.
	p.put(web, edit(tests[3].change))
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			p := p.in(t)
			name := p.name(tt.base)
			if got := p.waitState(name, fleet.PhaseFailed, tt.want); !strings.HasPrefix(got, "policy: refused: ") {
				t.Errorf("last_error = %q, want the policy's refusal", got)
			}
			if c, ok := p.inspect(podman.ContainerName(name)); ok {
				t.Errorf("a container was created for %s: %s %s", name, c.ID, c.State.Status)
			}
		})
	}
	p.waitState(web, fleet.PhaseFailed, tests[3].want)
	if after, ok := p.inspect(podman.ContainerName(web)); !ok || after.ID != before.ID || after.State.Status != "running" {
		t.Errorf("web's container after the refused value: %+v, %v; want %s still running", after, ok, before.ID)
	}
}
