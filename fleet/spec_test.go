package fleet_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// padTo returns a valid podman spec of exactly n bytes (n >= 60): an env
// value fills the gap.
func padTo(n int) []byte {
	const head, tail = `{"runtime":"podman","image":"x","env":{"PAD":"`, `"}}`
	return []byte(head + strings.Repeat("p", n-len(head)-len(tail)) + tail)
}

func TestDecodeSpecRejected(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error, each naming a field or the rule
	}{
		{"not JSON", `runtime: podman`, []string{"not JSON", "invalid character"}},
		{"empty", ``, []string{"not JSON: empty or truncated value"}},
		{"truncated", `{"runtime":"podman"`, []string{"not JSON"}},
		{"trailing object", `{"runtime":"podman","image":"x"} {}`, []string{"not JSON: data after the object"}},
		{"trailing garbage", `{"runtime":"podman","image":"x"}x`, []string{"not JSON: data after the object"}},
		{"trailing brace", `{"runtime":"podman","image":"x"}}`, []string{"not JSON: data after the object"}},
		{"array", `[{"runtime":"podman","image":"x"}]`, []string{"value: want a JSON object, got JSON array"}},
		{"string", `"podman"`, []string{"value: want a JSON object, got JSON string"}},
		{"null", ` null `, []string{"value: want a JSON object, got JSON null"}},
		{"unknown field", `{"runtime":"podman","image":"x","imagePullPolicy":"always"}`, []string{`unknown field "imagePullPolicy"`, "allowed: runtime, image"}},
		{"unknown runtime", `{"runtime":"docker","image":"x"}`, []string{`runtime: unknown runtime "docker"`}},
		{"missing runtime", `{"image":"x"}`, []string{"runtime: required"}},
		{"empty object", `{}`, []string{"runtime: required"}},
		{"podman without image", `{"runtime":"podman"}`, []string{"image: required for runtime podman"}},
		{"podman with blank image", `{"runtime":"podman","image":"  "}`, []string{"image: required for runtime podman"}},
		{"process without command", `{"runtime":"process"}`, []string{"command: required for runtime process"}},
		{"process with empty command", `{"runtime":"process","command":[]}`, []string{"command: required for runtime process"}},
		{"process with empty program", `{"runtime":"process","command":["","x"]}`, []string{"command: required for runtime process"}},
		{"process with image", `{"runtime":"process","command":["sleep"],"image":"x"}`, []string{"image: only for runtime podman"}},
		{"process with ports", `{"runtime":"process","command":["sleep"],"ports":[{"host_port":1,"container_port":1}]}`, []string{"ports: only for runtime podman"}},
		{"process with a bad user", `{"runtime":"process","command":["sleep"],"user":"ro ot"}`, []string{`user: "ro ot" is neither a user name nor uid:gid`}},
		{"process with a half uid:gid", `{"runtime":"process","command":["sleep"],"user":"1000:"}`, []string{`user: "1000:" is neither`}},
		{"podman with a user", `{"runtime":"podman","image":"x","user":"app"}`, []string{"user: only for runtime process"}},
		{"process with volumes", `{"runtime":"process","command":["sleep"],"volumes":[{"host_path":"/a","container_path":"/b"}]}`, []string{"volumes: only for runtime podman"}},
		{"relative command path", `{"runtime":"process","command":["bin/server"]}`, []string{`command[0]: relative path "bin/server"`}},
		{"dot-relative command path", `{"runtime":"process","command":["./server","--port","80"]}`, []string{`command[0]: relative path "./server"`}},
		{"NUL in an argument", `{"runtime":"process","command":["/bin/echo","a\u0000b"]}`, []string{"command[1]: contains a NUL byte"}},
		{"empty env name", `{"runtime":"podman","image":"x","env":{"":"v"}}`, []string{"env: empty variable name"}},
		{"env name with =", `{"runtime":"podman","image":"x","env":{"A=B":"v"}}`, []string{"env.A=B: name contains '='"}},
		{"env value with NUL", `{"runtime":"podman","image":"x","env":{"A":"v\u0000"}}`, []string{"env.A: value contains NUL"}},
		{"host port 0", `{"runtime":"podman","image":"x","ports":[{"host_port":0,"container_port":80}]}`, []string{"ports[0].host_port: 0 out of range 1-65535"}},
		{"host port 70000", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":80},{"host_port":70000,"container_port":80}]}`, []string{"ports[1].host_port: 70000 out of range 1-65535"}},
		{"host port missing", `{"runtime":"podman","image":"x","ports":[{"container_port":80}]}`, []string{"ports[0].host_port: 0 out of range"}},
		{"container port 0", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":0}]}`, []string{"ports[0].container_port: 0 out of range 1-65535"}},
		{"container port 65536", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":65536}]}`, []string{"ports[0].container_port: 65536 out of range 1-65535"}},
		{"bad protocol", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":80,"protocol":"sctp"}]}`, []string{`ports[0].protocol: unknown protocol "sctp" (want tcp or udp)`}},
		{"upper-case protocol", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":80,"protocol":"TCP"}]}`, []string{`ports[0].protocol: unknown protocol "TCP"`}},
		{"relative host_path", `{"runtime":"podman","image":"x","volumes":[{"host_path":"srv/web","container_path":"/data"}]}`, []string{`volumes[0].host_path: relative path "srv/web"`}},
		{"empty host_path", `{"runtime":"podman","image":"x","volumes":[{"container_path":"/data"}]}`, []string{`volumes[0].host_path: relative path ""`}},
		{"relative container_path", `{"runtime":"podman","image":"x","volumes":[{"host_path":"/srv","container_path":"data"}]}`, []string{`volumes[0].container_path: relative path "data"`}},
		{"relative working_dir", `{"runtime":"process","command":["ls"],"working_dir":"srv"}`, []string{`working_dir: relative path "srv"`}},
		{"bad restart", `{"runtime":"podman","image":"x","restart":"sometimes"}`, []string{`restart: unknown policy "sometimes" (want always, on-failure or never)`}},
		{"grace period negative", `{"runtime":"podman","image":"x","grace_period_seconds":-1}`, []string{"grace_period_seconds: -1 out of range 0-3600"}},
		{"grace period too long", `{"runtime":"podman","image":"x","grace_period_seconds":3601}`, []string{"grace_period_seconds: 3601 out of range 0-3600"}},
		{"command as a string", `{"runtime":"process","command":"/bin/sleep 5"}`, []string{"command: want []string, got JSON string"}},
		{"image as a number", `{"runtime":"podman","image":5}`, []string{"image: want string, got JSON number"}},
		{"host_port as a string", `{"runtime":"podman","image":"x","ports":[{"host_port":"80","container_port":80}]}`, []string{"host_port: want int, got JSON string"}},
		{"host_port fractional", `{"runtime":"podman","image":"x","ports":[{"host_port":80.5,"container_port":80}]}`, []string{"host_port: want int"}},
		{"read_only as a string", `{"runtime":"podman","image":"x","volumes":[{"host_path":"/a","container_path":"/b","read_only":"yes"}]}`, []string{"read_only: want bool, got JSON string"}},
		{"env value a number", `{"runtime":"podman","image":"x","env":{"N":1}}`, []string{"env", "want string, got JSON number"}},
		{"restart a bool", `{"runtime":"podman","image":"x","restart":true}`, []string{"restart: want fleet.RestartPolicy, got JSON bool"}},
		{"several errors at once", `{"runtime":"podman","ports":[{"host_port":0,"container_port":80}],"volumes":[{"host_path":"rel","container_path":"/b"}],"restart":"maybe"}`,
			[]string{"image: required", "ports[0].host_port: 0 out of range", `volumes[0].host_path: relative path "rel"`, `restart: unknown policy "maybe"`}},
		{"over 64 KiB", string(padTo(fleet.MaxSpecBytes + 1)), []string{"value is 65537 bytes, over the 65536-byte limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fleet.DecodeSpec([]byte(tt.in))
			if !errors.Is(err, fleet.ErrInvalidSpec) {
				t.Fatalf("DecodeSpec(%.200s) = %+v, %v, want errors.Is ErrInvalidSpec", tt.in, got, err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("DecodeSpec(%.200s) = %v, want an error containing %q", tt.in, err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("DecodeSpec(%.200s) = %q, want one line (it becomes a last_error)", tt.in, err)
			}
			if !reflect.DeepEqual(got, fleet.DeploymentSpec{}) {
				t.Errorf("DecodeSpec(%.200s) = %+v with an error, want the zero spec", tt.in, got)
			}
		})
	}
}

func TestDecodeSpecAccepted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want fleet.DeploymentSpec
	}{
		{"defaults filled in", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":8080}]}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "x", Restart: fleet.RestartAlways, GracePeriodSeconds: 10,
			Ports: []fleet.PortMapping{{HostPort: 80, ContainerPort: 8080, Protocol: "tcp"}},
		}},
		{"explicit values kept", `{"runtime":"podman","image":"x","ports":[{"host_port":53,"container_port":53,"protocol":"udp"}],"restart":"never","grace_period_seconds":30}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "x", Restart: fleet.RestartNever, GracePeriodSeconds: 30,
			Ports: []fleet.PortMapping{{HostPort: 53, ContainerPort: 53, Protocol: "udp"}},
		}},
		{"grace period 0 means the default", `{"runtime":"podman","image":"x","grace_period_seconds":0}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "x", Restart: fleet.RestartAlways, GracePeriodSeconds: 10,
		}},
		{"largest grace period", `{"runtime":"podman","image":"x","grace_period_seconds":3600}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "x", Restart: fleet.RestartAlways, GracePeriodSeconds: 3600,
		}},
		{"bare program name", `{"runtime":"process","command":["sleep","60"],"restart":"on-failure"}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimeProcess, Command: []string{"sleep", "60"}, Restart: fleet.RestartOnFailure, GracePeriodSeconds: 10,
		}},
		{"user by name", `{"runtime":"process","command":["sleep"],"user":"harmony-app"}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimeProcess, Command: []string{"sleep"}, Restart: fleet.RestartAlways, GracePeriodSeconds: 10, User: "harmony-app",
		}},
		{"user by uid:gid", `{"runtime":"process","command":["sleep"],"user":"1000:1000"}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimeProcess, Command: []string{"sleep"}, Restart: fleet.RestartAlways, GracePeriodSeconds: 10, User: "1000:1000",
		}},
		{"port bounds", `{"runtime":"podman","image":"x","ports":[{"host_port":1,"container_port":65535}]}`, fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "x", Restart: fleet.RestartAlways, GracePeriodSeconds: 10,
			Ports: []fleet.PortMapping{{HostPort: 1, ContainerPort: 65535, Protocol: "tcp"}},
		}},
		{"surrounding whitespace", " \n\t{\"runtime\":\"podman\",\"image\":\"x\"}\r\n ", fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "x", Restart: fleet.RestartAlways, GracePeriodSeconds: 10,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fleet.DecodeSpec([]byte(tt.in))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeSpec(%s) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
		})
	}

	t.Run("exactly 64 KiB", func(t *testing.T) {
		in := padTo(fleet.MaxSpecBytes)
		if _, err := fleet.DecodeSpec(in); err != nil || len(in) != fleet.MaxSpecBytes {
			t.Errorf("DecodeSpec(%d bytes) = %v, want nil", len(in), err)
		}
	})
}

// TestSpecExamplesOfArchitecture decodes the literal text of the 3.6
// examples.
func TestSpecExamplesOfArchitecture(t *testing.T) {
	tests := []struct {
		text string
		want fleet.DeploymentSpec
	}{
		{`{"runtime":"podman","image":"docker.io/library/nginx:1.27",
 "command":["nginx","-g","daemon off;"],"env":{"MODE":"edge"},
 "ports":[{"host_port":8080,"container_port":80,"protocol":"tcp"}],
 "volumes":[{"host_path":"/srv/web","container_path":"/usr/share/nginx/html","read_only":true}],
 "restart":"always"}`, goldenSpecs[0].spec},
		{`{"runtime":"process","command":["/usr/bin/python3","-m","http.server","8081"],
 "env":{},"working_dir":"/srv","restart":"on-failure"}`, goldenSpecs[1].spec},
	}
	for _, tt := range tests {
		t.Run(string(tt.want.Runtime), func(t *testing.T) {
			got, err := fleet.DecodeSpec([]byte(tt.text))
			if err != nil {
				t.Fatalf("DecodeSpec(%s) = %v, want nil", tt.text, err)
			}
			if fleet.SpecHash(got) != fleet.SpecHash(tt.want) {
				t.Errorf("DecodeSpec(%s) = %+v, want %+v", tt.text, got, tt.want.WithDefaults())
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    fleet.DeploymentSpec
		wantErr string
	}{
		{"restart and grace unset pass", fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x"}, ""},
		{"protocol unset passes", fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x", Ports: []fleet.PortMapping{{HostPort: 1, ContainerPort: 1}}}, ""},
		{"zero spec", fleet.DeploymentSpec{}, "runtime: required"},
		{"unknown runtime truncated", fleet.DeploymentSpec{Runtime: fleet.RuntimeKind(strings.Repeat("k", 1000))}, `runtime: unknown runtime "` + strings.Repeat("k", 64) + `..."`},
		{"bad restart", fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x", Restart: "Always"}, `restart: unknown policy "Always"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("%+v.Validate() = %v, want nil", tt.spec, err)
				}
				return
			}
			if !errors.Is(err, fleet.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v.Validate() = %v, want ErrInvalidSpec containing %q", tt.spec, err, tt.wantErr)
			}
		})
	}
}

// TestSpecValidateStableMessage: env is a map; the message must not depend
// on its iteration order (it is published as a last_error).
func TestSpecValidateStableMessage(t *testing.T) {
	s := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x", Env: map[string]string{}}
	for i := range 20 {
		s.Env[fmt.Sprintf("K%d=", i)] = "v"
	}
	first := s.Validate().Error()
	for range 50 {
		if got := s.Validate().Error(); got != first {
			t.Fatalf("Validate() = %q, then %q: want the same message each time", first, got)
		}
	}
}

func TestWithDefaultsDoesNotAlias(t *testing.T) {
	s := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x", Ports: []fleet.PortMapping{{HostPort: 1, ContainerPort: 2}}}
	d := s.WithDefaults()
	if s.Ports[0].Protocol != "" || s.Restart != "" || s.GracePeriodSeconds != 0 {
		t.Errorf("WithDefaults() changed its receiver: %+v", s)
	}
	if d.Ports[0].Protocol != "tcp" || d.Restart != fleet.RestartAlways || d.GracePeriodSeconds != fleet.DefaultGracePeriodSeconds {
		t.Errorf("WithDefaults() = %+v, want protocol tcp, restart always, grace 10", d)
	}
	if again := d.WithDefaults(); !reflect.DeepEqual(again, d) {
		t.Errorf("WithDefaults(WithDefaults()) = %+v, want %+v", again, d)
	}
}

func TestSpecHash(t *testing.T) {
	base := `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080}]}`
	tests := []struct {
		name string
		in   string
		same bool
	}{
		{"identical", base, true},
		{"fields in another order", `{"ports":[{"container_port":8080,"host_port":80}],"env":{"A":"1","B":"2"},"image":"x","runtime":"podman"}`, true},
		{"env keys in another order", `{"runtime":"podman","image":"x","env":{"B":"2","A":"1"},"ports":[{"host_port":80,"container_port":8080}]}`, true},
		{"whitespace", "{ \"runtime\" : \"podman\",\n\"image\":\"x\", \"env\":{\"A\":\"1\",\"B\":\"2\"},\"ports\":[{\"host_port\":80,\"container_port\":8080}] }", true},
		{"explicit restart always", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080}],"restart":"always"}`, true},
		{"explicit grace 10", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080}],"grace_period_seconds":10}`, true},
		{"explicit protocol tcp", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080,"protocol":"tcp"}]}`, true},
		{"empty lists", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080}],"command":[],"volumes":[]}`, true},
		{"env value changed", `{"runtime":"podman","image":"x","env":{"A":"1","B":"3"},"ports":[{"host_port":80,"container_port":8080}]}`, false},
		{"env key added", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2","C":""},"ports":[{"host_port":80,"container_port":8080}]}`, false},
		{"image changed", `{"runtime":"podman","image":"y","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080}]}`, false},
		{"restart never", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080}],"restart":"never"}`, false},
		{"protocol udp", `{"runtime":"podman","image":"x","env":{"A":"1","B":"2"},"ports":[{"host_port":80,"container_port":8080,"protocol":"udp"}]}`, false},
	}
	want, err := fleet.DecodeSpec([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	wantHash := fleet.SpecHash(want)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := fleet.DecodeSpec([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeSpec(%s) = %v", tt.in, err)
			}
			if got := fleet.SpecHash(s); (got == wantHash) != tt.same {
				t.Errorf("SpecHash(%s) = %s, SpecHash(%s) = %s, want equal: %v", tt.in, got, base, wantHash, tt.same)
			}
		})
	}

	t.Run("Go value without defaults", func(t *testing.T) {
		raw := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x", Env: map[string]string{"B": "2", "A": "1"}, Ports: []fleet.PortMapping{{HostPort: 80, ContainerPort: 8080}}}
		if got := fleet.SpecHash(raw); got != wantHash {
			t.Errorf("SpecHash(%+v) = %s, want %s", raw, got, wantHash)
		}
	})
}

// TestSpecHashLocked: the hash labels running workloads
// (io.harmony.spec-hash); if the canonical form changed, every agent
// upgraded would replace every healthy workload.
func TestSpecHashLocked(t *testing.T) {
	tests := []struct {
		spec fleet.DeploymentSpec
		want string
	}{
		{goldenSpecs[0].spec, "c25b6538d285cb89584c3561420b0c007bee21a4f97a9fdc70f00ae1173e0e64"},
		{goldenSpecs[1].spec, "5f9288bb8c1bea19f3a54a3d52cd0db5cb6539928400232d75cb9c3a953dc730"},
	}
	for _, tt := range tests {
		t.Run(string(tt.spec.Runtime), func(t *testing.T) {
			got := fleet.SpecHash(tt.spec)
			if got != tt.want {
				t.Errorf("SpecHash(%+v) = %s, want %s", tt.spec, got, tt.want)
			}
			b, _ := json.Marshal(tt.spec)
			if len(got) != 64 || strings.Trim(got, "0123456789abcdef") != "" {
				t.Errorf("SpecHash(%s) = %q, want 64 lower-case hex digits", b, got)
			}
		})
	}
}

func TestSpecEnumsValid(t *testing.T) {
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"RuntimePodman", fleet.RuntimePodman.Valid(), true},
		{"RuntimeProcess", fleet.RuntimeProcess.Valid(), true},
		{`RuntimeKind("")`, fleet.RuntimeKind("").Valid(), false},
		{`RuntimeKind("docker")`, fleet.RuntimeKind("docker").Valid(), false},
		{`RuntimeKind("Podman")`, fleet.RuntimeKind("Podman").Valid(), false},
		{"RestartAlways", fleet.RestartAlways.Valid(), true},
		{"RestartOnFailure", fleet.RestartOnFailure.Valid(), true},
		{"RestartNever", fleet.RestartNever.Valid(), true},
		{`RestartPolicy("")`, fleet.RestartPolicy("").Valid(), false},
		{`RestartPolicy("unless-stopped")`, fleet.RestartPolicy("unless-stopped").Valid(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s.Valid() = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
	if fleet.RuntimePodman != "podman" || fleet.RuntimeProcess != "process" || fleet.RestartAlways != "always" || fleet.RestartOnFailure != "on-failure" || fleet.RestartNever != "never" {
		t.Errorf("runtime or restart strings changed: %q %q %q %q %q", fleet.RuntimePodman, fleet.RuntimeProcess, fleet.RestartAlways, fleet.RestartOnFailure, fleet.RestartNever)
	}
	if fleet.KindApplied != "applied" || fleet.KindRemoved != "removed" {
		t.Errorf("transition kinds changed: %q %q", fleet.KindApplied, fleet.KindRemoved)
	}
}

func TestDecodeSpecExactKeys(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"upper-case field", `{"runtime":"podman","IMAGE":"x"}`, `unknown field "IMAGE"`},
		{"mixed-case field", `{"Runtime":"podman","image":"x"}`, `unknown field "Runtime"`},
		{"duplicate field", `{"runtime":"podman","image":"x","image":"y"}`, `image: duplicate field`},
		{"port field case", `{"runtime":"podman","image":"x","ports":[{"Host_Port":80,"container_port":80}]}`, `unknown field "ports[0].Host_Port"`},
		{"volume duplicate", `{"runtime":"podman","image":"x","volumes":[{"host_path":"/a","host_path":"/b","container_path":"/c"}]}`, `volumes[0].host_path: duplicate field`},
		{"env duplicate", `{"runtime":"process","command":["/bin/true"],"env":{"A":"1","A":"2"}}`, `env.A: duplicate field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fleet.DecodeSpec([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, fleet.ErrInvalidSpec) {
				t.Fatalf("DecodeSpec(%s) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
	// env keys of any case stay allowed.
	if _, err := fleet.DecodeSpec([]byte(`{"runtime":"process","command":["/bin/true"],"env":{"Mode":"x","MODE":"y"}}`)); err != nil {
		t.Fatalf("DecodeSpec(env keys differing by case) = %v, want nil", err)
	}
}

func TestGracePeriodAndShortHash(t *testing.T) {
	for _, tt := range []struct {
		seconds int
		want    time.Duration
	}{{0, 10 * time.Second}, {-1, 10 * time.Second}, {1, time.Second}, {3600, time.Hour}} {
		if got := fleet.GracePeriod(tt.seconds); got != tt.want {
			t.Errorf("GracePeriod(%d) = %v, want %v", tt.seconds, got, tt.want)
		}
	}
	if got := (fleet.DeploymentSpec{GracePeriodSeconds: 30}).GracePeriod(); got != 30*time.Second {
		t.Errorf("DeploymentSpec{30}.GracePeriod() = %v, want 30s", got)
	}
	for in, want := range map[string]string{"": "", "abc": "abc", "c275172d7b6e": "c275172d7b6e", "c275172d7b6e4a": "c275172d7b6e"} {
		if got := fleet.ShortHash(in); got != want {
			t.Errorf("ShortHash(%q) = %q, want %q", in, got, want)
		}
	}
}
