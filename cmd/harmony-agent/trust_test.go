//go:build embednats

package main

// Signed desired state and the device policy (ARCHITECTURE 3.8, 8.3, 8.4,
// 8.5), end to end: the real agent, a real nats-server, real processes.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"

	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
	"github.com/harmony-edge/harmony-agent/internal/trust"
)

// signingKey is an account key pair and its public key.
type signingKey struct {
	kp  nkeys.KeyPair
	pub string
}

func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kp, pub}
}

// sign returns the envelope of s for device and deployment at generation.
func (k signingKey) sign(t *testing.T, device fleet.DeviceID, deployment fleet.DeploymentName, generation uint64, s fleet.DeploymentSpec) string {
	t.Helper()
	b, err := signed.Sign(k.kp, signed.Statement{DeviceID: device, Deployment: deployment, Generation: generation, Spec: s})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return string(b)
}

// trusting is the agent config's YAML trusting keys.
func trusting(keys ...signingKey) string {
	pubs := make([]string, len(keys))
	for i, k := range keys {
		pubs[i] = k.pub
	}
	return "trust:\n  keys: [" + quoteAll(pubs) + "]\n"
}

// procSpec is a process spec running command, restarted always.
func procSpec(command ...string) fleet.DeploymentSpec {
	return fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: command, Restart: fleet.RestartAlways, GracePeriodSeconds: 1}
}

// tamper changes one byte of the envelope's statement and re-encodes it,
// keeping the signature.
func tamper(t *testing.T, envelope string) string {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal([]byte(envelope), &e); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(e["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(payload, []byte(`"600"`), []byte(`"601"`), 1)
	if bytes.Equal(changed, payload) {
		t.Fatalf("nothing to tamper with in %s", payload)
	}
	e["payload"] = base64.StdEncoding.EncodeToString(changed)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitState waits until DeviceInfo shows name in phase with a last_error
// containing want ("" any), and returns its last_error.
func (h *harness) waitState(name fleet.DeploymentName, phase fleet.Phase, want string) string {
	h.t.Helper()
	info := h.waitInfo(fmt.Sprintf("%s %s with last_error containing %q", name, phase, want), func(i fleet.DeviceInfo) bool {
		d, ok := i.Deployments[name]
		return ok && d.Phase == phase && strings.Contains(string(d.LastError), want)
	})
	return string(info.Deployments[name].LastError)
}

// openDir returns a new directory every user may enter and read (a
// temporary directory is 0700, and workloads run as nobody under root).
func openDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir is <test's own 0700 directory>/<NNN>.
	for _, d := range []string{filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSignedValues: with a trusted key, a value it signed runs; each
// forged, moved or replayed value is failed with its reason while the
// workload of the last good value keeps running (the same process); a
// value replayed after its deployment was deleted and the agent restarted
// is refused too, and nothing starts.
func TestSignedValues(t *testing.T) {
	h := newHarness(t)
	key, other := newSigningKey(t), newSigningKey(t)
	cfg := agentConfig{Extra: trusting(key)}
	a := h.start(cfg)
	good := key.sign(t, h.device, "web", 10, procSpec("sleep", "600"))
	h.put("web", good)
	h.waitState("web", fleet.PhaseRunning, "")
	pid := h.waitPID("web", 0)

	tests := []struct {
		name, value, want string
	}{
		{"untrusted key", other.sign(t, h.device, "web", 11, procSpec("sleep", "601")), "untrusted key " + other.pub},
		{"tampered payload", tamper(t, key.sign(t, h.device, "web", 12, procSpec("sleep", "600"))), "signature does not verify"},
		{"another device's value", key.sign(t, "pi-016", "web", 13, procSpec("sleep", "601")), "signed for device pi-016"},
		{"another deployment's value", key.sign(t, h.device, "api", 14, procSpec("sleep", "601")), "signed for deployment api"},
		{"older generation", key.sign(t, h.device, "web", 9, procSpec("sleep", "601")), "generation 9 is older than 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			h.put("web", tt.value)
			if got := h.waitState("web", fleet.PhaseFailed, tt.want); got != tt.want {
				t.Errorf("last_error = %q, want exactly %q", got, tt.want)
			}
			if now := h.pid("web"); now != pid {
				t.Fatalf("web's workload is pid %d after the refusal, want %d still running", now, pid)
			}
			// The good value again: accepted (the same generation is no
			// replay), and the same process is running it.
			h.put("web", good)
			h.waitState("web", fleet.PhaseRunning, "")
			if now := h.pid("web"); now != pid {
				t.Fatalf("web's workload is pid %d after the good value came back, want %d", now, pid)
			}
		})
	}

	// Replayed after the deployment was deleted and the agent restarted.
	h.put("gone", key.sign(t, h.device, "gone", 20, procSpec("sleep", "600")))
	h.waitState("gone", fleet.PhaseRunning, "")
	h.del("gone")
	h.waitInfo("gone removed", func(i fleet.DeviceInfo) bool { _, ok := i.Deployments["gone"]; return !ok })
	a.stop()
	if _, err := os.Stat(filepath.Join(h.stateDir, trust.StoreFile)); err != nil {
		t.Fatalf("generation store: %v", err)
	}
	h.start(cfg)
	h.put("gone", key.sign(t, h.device, "gone", 15, procSpec("sleep", "600")))
	h.waitState("gone", fleet.PhaseFailed, "generation 15 is older than 20")
	if p := h.pid("gone"); p != 0 {
		t.Errorf("the replayed value of gone runs (pid %d)", p)
	}
	if now := h.pid("web"); now != pid {
		t.Errorf("web's workload is pid %d after the restart, want %d adopted", now, pid)
	}
}

// TestKeyRotation: with two keys trusted, values signed by either run;
// once the old key is dropped from the config and the agent restarted, a
// value signed by it is refused, and a deployment whose value it signed is
// failed while its workload keeps running.
func TestKeyRotation(t *testing.T) {
	h := newHarness(t)
	oldKey, newKey := newSigningKey(t), newSigningKey(t)
	a := h.start(agentConfig{Extra: trusting(oldKey, newKey)})
	h.put("fresh", newKey.sign(t, h.device, "fresh", 1, procSpec("sleep", "600")))
	h.put("legacy", oldKey.sign(t, h.device, "legacy", 1, procSpec("sleep", "600")))
	h.waitState("fresh", fleet.PhaseRunning, "")
	h.waitState("legacy", fleet.PhaseRunning, "")
	legacy := h.waitPID("legacy", 0)
	a.stop()

	h.start(agentConfig{Extra: trusting(newKey)})
	h.put("late", oldKey.sign(t, h.device, "late", 2, procSpec("sleep", "600")))
	want := "untrusted key " + oldKey.pub
	h.waitState("late", fleet.PhaseFailed, want)
	h.waitState("legacy", fleet.PhaseFailed, want)
	h.waitState("fresh", fleet.PhaseRunning, "")
	if p := h.pid("late"); p != 0 {
		t.Errorf("late runs (pid %d), want nothing started", p)
	}
	if p := h.pid("legacy"); p != legacy {
		t.Errorf("legacy's workload is pid %d, want %d still running", p, legacy)
	}
	h.put("late", newKey.sign(t, h.device, "late", 3, procSpec("sleep", "600")))
	h.waitState("late", fleet.PhaseRunning, "")
}

// TestBareSpec: a bare spec is refused when trust.keys is set, and runs
// when it is not (the dev default).
func TestBareSpec(t *testing.T) {
	tests := []struct {
		name    string
		extra   string
		phase   fleet.Phase
		want    string
		running bool
	}{
		{"trust.keys set", trusting(newSigningKey(t)), fleet.PhaseFailed, "unsigned value refused: trust.keys is set", false},
		{"no trust.keys", "", fleet.PhaseRunning, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.start(agentConfig{Extra: tt.extra})
			h.put("web", sleeper(nil))
			if got := h.waitState("web", tt.phase, tt.want); got != tt.want {
				t.Errorf("last_error = %q, want %q", got, tt.want)
			}
			if tt.running {
				h.waitPID("web", 0)
			} else if p := h.pid("web"); p != 0 {
				t.Errorf("web runs (pid %d), want nothing started", p)
			}
		})
	}
}

// TestPolicy: specs outside the default policy are failed naming the rule
// and start nothing; a process workload runs as the default user (nobody
// under root), which cannot read the agent's secrets or state directory.
func TestPolicy(t *testing.T) {
	if os.Geteuid() != 0 {
		testsupport.SkipOutsideCI(t, "the default user is the agent's own unless it runs as root; this test runs as uid %d", os.Geteuid())
	}
	h := newHarness(t)
	// Opened up before the agent starts: it makes its state directory
	// private again.
	if err := os.Chmod(h.stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "podman", "podman.sock")
	a := h.start(agentConfig{PodmanSocket: sock, Extra: "policy:\n  podman:\n    volume_paths: [/srv]\n    registries: [registry.example.net/]\n"})
	podmanSpec := func(edit func(*fleet.DeploymentSpec)) string {
		s := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "registry.example.net/app:1"}
		edit(&s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rootSpec := procSpec("sleep", "600")
	rootSpec.User = "root"
	rootValue, _ := json.Marshal(rootSpec)
	tests := []struct {
		name  fleet.DeploymentName
		value string
		want  string
	}{
		{"as-root", string(rootValue), `user: "root" is root, allowed only when policy.process.users lists it`},
		{"mount-root", podmanSpec(func(s *fleet.DeploymentSpec) {
			s.Volumes = []fleet.VolumeMount{{HostPath: "/", ContainerPath: "/host"}}
		}), `volumes[0].host_path: "/" is refused unless policy.podman.volume_paths lists "/"`},
		{"mount-socket", podmanSpec(func(s *fleet.DeploymentSpec) {
			s.Volumes = []fleet.VolumeMount{{HostPath: sock, ContainerPath: "/run/podman.sock"}}
		}), "holds the podman socket " + sock},
		{"other-registry", podmanSpec(func(s *fleet.DeploymentSpec) { s.Image = "docker.io/library/alpine:3" }),
			`image: "docker.io/library/alpine:3" is not from a registry in policy.podman.registries`},
		{"port-22", podmanSpec(func(s *fleet.DeploymentSpec) {
			s.Ports = []fleet.PortMapping{{HostPort: 22, ContainerPort: 22, Protocol: "tcp"}}
		}), "ports[0].host_port: 22 is below 1024 and policy.podman.low_ports is false"},
	}
	for _, tt := range tests {
		h.put(tt.name, tt.value)
	}
	for _, tt := range tests {
		t.Run(string(tt.name), func(t *testing.T) {
			h := h.in(t)
			got := h.waitState(tt.name, fleet.PhaseFailed, tt.want)
			if !strings.HasPrefix(got, "policy: refused: ") {
				t.Errorf("last_error = %q, want it to say the policy refused it", got)
			}
			if p := h.pid(tt.name); p != 0 {
				t.Errorf("%s runs (pid %d), want nothing started", tt.name, p)
			}
		})
	}
	// Nothing reached podman: no socket was ever dialled for these (the
	// runtime's errors would name it).
	if l := a.logged(0, "transition", "error", "dial*"); len(l) > 0 {
		t.Errorf("a refused spec reached the runtime: %v", l)
	}

	fi, err := os.Stat(h.stateDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	// A creds file where anyone may look, but 0600 root's as the agent's
	// secrets are.
	creds := filepath.Join(openDir(t), "agent.creds")
	if err := os.WriteFile(creds, []byte("-----BEGIN NATS USER JWT-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peek := map[fleet.DeploymentName]string{
		"peek-creds": "cat " + creds,
		"peek-state": "ls " + h.stateDir,
		"peek-cache": "cat " + filepath.Join(h.stateDir, "desired", "peek-cache.desired"),
	}
	for name, script := range peek {
		h.put(name, spec(fleet.RestartNever, nil, "/bin/sh", "-c", script))
	}
	for name, script := range peek {
		got := h.waitState(name, fleet.PhaseFailed, "Permission denied")
		if !strings.HasPrefix(got, "exited with code ") {
			t.Errorf("%s (%s): last_error = %q, want a non-zero exit quoting Permission denied", name, script, got)
		}
	}
}

// TestMaskedSecret: a workload printing its DB_PASSWORD and exiting 1 is
// failed with its output quoted, the password replaced by ***, in the
// event and in DeviceInfo.
func TestMaskedSecret(t *testing.T) {
	h := newHarness(t)
	h.start(agentConfig{})
	const password = "correct-horse-battery"
	h.put("db", spec(fleet.RestartNever, map[string]string{"DB_PASSWORD": password},
		"/bin/sh", "-c", `echo "login failed for password $DB_PASSWORD"; exit 1`))
	got := h.waitState("db", fleet.PhaseFailed, "login failed")
	if strings.Contains(got, password) || !strings.Contains(got, "login failed for password ***") {
		t.Errorf("DeviceInfo last_error = %q, want the password masked", got)
	}
	evs := h.waitEvents("db failed", h.deploymentEvents("db"), func(evs []storedEvent) bool {
		return len(evs) > 0 && evs[len(evs)-1].Transition.To == fleet.PhaseFailed
	})
	if last := evs[len(evs)-1].Transition.LastError; string(last) != got {
		t.Errorf("event last_error = %q, want %q as in DeviceInfo", last, got)
	}
	for _, e := range evs {
		if strings.Contains(e.Transition.LastError, password) {
			t.Errorf("event %v carries the password", e)
		}
	}
}
