package podman

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// fakeAPI serves handler on a unix socket in a temporary directory and
// returns the socket's path.
func fakeAPI(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

func frame(stream byte, payload string) []byte {
	hdr := make([]byte, 8, 8+len(payload))
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	return append(hdr, payload...)
}

func TestDemux(t *testing.T) {
	multi := bytes.Join([][]byte{frame(1, "hello\n"), frame(2, "oops\n"), frame(1, "bye\n")}, nil)
	tests := []struct {
		name     string
		in       []byte
		maxBytes int
		want     string
		wantErr  bool
	}{
		{"empty", nil, 0, "", false},
		{"frames", multi, 0, "hello\noops\nbye\n", false},
		{"frames tail", multi, 9, "oops\nbye\n", false},
		{"frames tail over size", multi, 100, "hello\noops\nbye\n", false},
		{"empty frame", frame(1, ""), 0, "", false},
		{"raw tty stream", []byte("plain output\n"), 0, "plain output\n", false},
		{"raw tail", []byte("plain output\n"), 7, "output\n", false},
		{"tail on a character boundary", frame(1, "aé€z"), 4, "€z", false},
		{"truncated frame", frame(1, "hello")[:10], 0, "", true},
		{"truncated header", append(frame(1, "hi"), 1, 0, 0), 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := demux(bytes.NewReader(tt.in), tt.maxBytes)
			if (err != nil) != tt.wantErr {
				t.Fatalf("demux() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("demux() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDemuxLargeStreamKeepsTail(t *testing.T) {
	var in []byte
	for range 1000 {
		in = append(in, frame(1, strings.Repeat("x", 99)+"\n")...)
	}
	in = append(in, frame(2, "last line\n")...)
	got, err := demux(bytes.NewReader(in), 10)
	if err != nil || string(got) != "last line\n" {
		t.Errorf("demux() = %q, %v, want %q", got, err, "last line\n")
	}
}

func TestCheckAPIVersion(t *testing.T) {
	tests := []struct {
		version string
		wantErr bool
	}{
		{"4.0.0", false},
		{"4.3.1", false},
		{"5.2.0", false},
		{"v4.9.3", false},
		{"3.4.4", true},
		{"1.41", true},
		{"", true},
		{"garbage", true},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			err := checkAPIVersion("/s.sock", tt.version)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkAPIVersion(%q) = %v, wantErr %v", tt.version, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrAPIVersion) {
				t.Errorf("checkAPIVersion(%q) = %v, want ErrAPIVersion", tt.version, err)
			}
		})
	}
}

func TestSocketErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")

	// A socket file nobody listens on: connection refused.
	refused := filepath.Join(dir, "refused.sock")
	l, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	tests := []struct {
		name   string
		socket string
		want   string
		errno  syscall.Errno
	}{
		{"missing", missing, "podman socket " + missing + ": no such file (is podman.socket enabled? systemctl enable --now podman.socket)", syscall.ENOENT},
		{"refused", refused, "podman socket " + refused + ": connection refused (is the podman service running?", syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(Config{Socket: tt.socket, ConnectTimeout: 5 * time.Second})
			if err == nil {
				r.Close()
				t.Fatalf("New(%s) = nil error, want one", tt.socket)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%s) = %q, want it to contain %q", tt.socket, err, tt.want)
			}
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, tt.errno) {
				t.Errorf("New(%s) = %v, want ErrUnavailable and %v", tt.socket, err, tt.errno)
			}
		})
	}
}

func TestNewChecksAPIVersion(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		version string // of /version, when the header is missing
		wantErr error
	}{
		{"podman 4", "4.3.1", "", nil},
		{"podman 3", "3.4.4", "", ErrAPIVersion},
		{"no header, version 4", "", "4.9.3", nil},
		{"no header, version 3", "", "3.0.1", ErrAPIVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case apiPrefix + "/_ping":
					if tt.header != "" {
						w.Header().Set("Libpod-Api-Version", tt.header)
					}
					w.Write([]byte("OK"))
				case apiPrefix + "/version":
					json.NewEncoder(w).Encode(map[string]any{
						"Version": tt.version,
						"Components": []map[string]any{{
							"Name": "Podman Engine", "Version": tt.version,
							"Details": map[string]string{"APIVersion": tt.version},
						}},
					})
				default:
					http.NotFound(w, r)
				}
			})
			r, err := New(Config{Socket: sock})
			if r != nil {
				r.Close()
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("New() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		sentinel error
		want     string
	}{
		{"not found", 404, `{"cause":"no such container","message":"no container with name or ID \"x\" found: no such container","response":404}`,
			ErrNotFound, `inspect container x: no container with name or ID "x" found: no such container`},
		// Podman 4.3, inspect racing podman rm -f: the name resolved, the
		// container left the database before it was read.
		{"removed from the database", 500, `{"cause":"no such container","message":"container 0123abcd does not exist in database: no such container","response":500}`,
			ErrNotFound, `inspect container x: container 0123abcd does not exist in database: no such container`},
		// define.ErrCtrRemoved: the container object was invalidated.
		{"already removed", 500, `{"cause":"container has already been removed","message":"container has already been removed","response":500}`,
			ErrNotFound, `inspect container x: container has already been removed`},
		{"removed, message only", 500, `{"message":"container 0123abcd does not exist in database: no such container"}`,
			ErrNotFound, `inspect container x: container 0123abcd does not exist in database: no such container`},
		{"no such container elsewhere in the text", 500, `{"cause":"boom","message":"no such container runtime: boom","response":500}`,
			ErrAPI, `inspect container x: no such container runtime: boom`},
		{"conflict", 409, `{"cause":"name in use","message":"name \"x\" is in use","response":409}`,
			ErrConflict, `inspect container x: name "x" is in use`},
		{"server error", 500, `{"cause":"boom","message":"something broke: boom","response":500}`,
			ErrAPI, `inspect container x: something broke: boom`},
		{"not JSON", 500, "plain failure\n", ErrAPI, "inspect container x: plain failure"},
		{"empty body", 502, "", ErrAPI, "inspect container x: 502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			c := NewClient(sock)
			defer c.Close()
			_, err := c.Inspect(context.Background(), "x")
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("Inspect() = %v, want %v", err, tt.sentinel)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("Inspect() = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestReadPullStream(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantLines []string
		wantErr   string
	}{
		{"ok", `{"stream":"Trying to pull x...\n"}` + "\n" + `{"stream":"Writing manifest\nStoring signatures\n"}` + "\n" + `{"images":["abc"],"id":"abc"}`,
			[]string{"Trying to pull x...", "Writing manifest", "Storing signatures"}, ""},
		{"error", `{"stream":"Trying to pull localhost/nope:1...\n"}` + "\n" + `{"error":"initializing source docker://localhost/nope:1: connection refused"}`,
			[]string{"Trying to pull localhost/nope:1..."}, "initializing source docker://localhost/nope:1: connection refused"},
		{"no id", `{"stream":"Trying\n"}`, []string{"Trying"}, "pull report ended without an image id"},
		{"garbage", `{"stream":`, nil, "read pull report: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			err := readPullStream(strings.NewReader(tt.in), func(l string) { lines = append(lines, l) })
			if got := errText(err); got != tt.wantErr {
				t.Errorf("readPullStream() = %q, want %q", got, tt.wantErr)
			}
			if tt.wantErr != "" && !strings.HasPrefix(tt.wantErr, "read") && !errors.Is(err, ErrPull) {
				t.Errorf("readPullStream() = %v, want ErrPull", err)
			}
			if strings.Join(lines, "|") != strings.Join(tt.wantLines, "|") {
				t.Errorf("progress lines = %q, want %q", lines, tt.wantLines)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestContainerSpecBody(t *testing.T) {
	w := runtime.Workload{
		Device:     "pi-017",
		Deployment: "web",
		Spec: fleet.DeploymentSpec{
			Runtime:    fleet.RuntimePodman,
			Image:      "docker.io/library/nginx:1.27",
			Command:    []string{"nginx", "-g", "daemon off;"},
			Env:        map[string]string{"MODE": "edge"},
			WorkingDir: "/srv",
			Ports:      []fleet.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 53, ContainerPort: 5353, Protocol: "udp"}},
			Volumes:    []fleet.VolumeMount{{HostPath: "/srv/web", ContainerPath: "/usr/share/nginx/html", ReadOnly: true}, {HostPath: "/srv/data", ContainerPath: "/data"}},
			Restart:    fleet.RestartAlways,
		},
		SpecHash: "abc123",
	}
	body, err := containerSpec(w, Config{Network: "none", Init: true}).body()
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"harmony-web","image":"docker.io/library/nginx:1.27","command":["nginx","-g","daemon off;"],` +
		`"env":{"MODE":"edge"},"labels":{"io.harmony.deployment":"web","io.harmony.device":"pi-017","io.harmony.spec-hash":"abc123"},` +
		`"work_dir":"/srv","portmappings":[{"container_port":80,"host_port":8080,"protocol":"tcp"},{"container_port":5353,"host_port":53,"protocol":"udp"}],` +
		`"mounts":[{"destination":"/usr/share/nginx/html","type":"bind","source":"/srv/web","options":["rbind","ro"]},{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind"]}],` +
		`"stop_timeout":10,"netns":{"nsmode":"none"},"init":true,"restart_policy":"no"}`
	if string(got) != want {
		t.Errorf("create body =\n%s\nwant\n%s", got, want)
	}

	bad := ContainerSpec{Name: "x", Image: "i", Ports: []PortMapping{{HostPort: 70000, ContainerPort: 80}}}
	if _, err := bad.body(); err == nil {
		t.Errorf("body() with host port 70000 = nil error, want one")
	}
}

func TestState(t *testing.T) {
	tests := []struct {
		podman string
		want   runtime.State
	}{
		{"created", runtime.StateCreated},
		{"configured", runtime.StateCreated},
		{"initialized", runtime.StateCreated},
		{"running", runtime.StateRunning},
		{"paused", runtime.StateRunning},
		{"stopping", runtime.StateRunning},
		{"stopped", runtime.StateExited},
		{"exited", runtime.StateExited},
		{"removing", runtime.StateMissing},
		{"unknown", runtime.StateExited},
	}
	for _, tt := range tests {
		if got := state(tt.podman); got != tt.want {
			t.Errorf("state(%q) = %v, want %v", tt.podman, got, tt.want)
		}
	}
}

func TestManaged(t *testing.T) {
	labels := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   string // in the error; "" for managed
	}{
		{"ours", labels(fleet.LabelDevice, "pi-1", fleet.LabelDeployment, "web"), ""},
		{"no labels", nil, "it has no io.harmony.device label"},
		{"other device", labels(fleet.LabelDevice, "pi-2", fleet.LabelDeployment, "web"), `it belongs to device "pi-2"`},
		{"other deployment", labels(fleet.LabelDevice, "pi-1", fleet.LabelDeployment, "db"), `its io.harmony.deployment label is "db"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := ContainerInfo{ID: "0123456789abcdef", Name: "harmony-web", Labels: tt.labels}
			err := managed(info, "pi-1", "web")
			if tt.want == "" {
				if err != nil {
					t.Errorf("managed() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, runtime.ErrNotManaged) {
				t.Fatalf("managed() = %v, want ErrNotManaged", err)
			}
			for _, s := range []string{tt.want, "container harmony-web (id 0123456789ab)", "podman rm -f harmony-web"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("managed() = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{100 << 20, "100 MiB"},
		{512 << 20, "512 MiB"},
		{3 << 29, "1.5 GiB"},
		{20 << 30, "20 GiB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
