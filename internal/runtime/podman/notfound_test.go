package podman

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// TestRemoveReportNotFound: a removal whose per-container report says the
// container is gone is ErrNotFound, which stopRemove tolerates.
func TestRemoveReportNotFound(t *testing.T) {
	tests := []struct {
		name     string
		report   string
		sentinel error
	}{
		{"not in database", "container 0123 does not exist in database: no such container", ErrNotFound},
		{"already removed", "container has already been removed", ErrNotFound},
		{"no such container", `no container with name or ID "x" found: no such container`, ErrNotFound},
		{"other", "unmount overlay: device busy", ErrAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `[{"Id":"0123","Err":%q}]`, tt.report)
			})
			c := NewClient(sock)
			defer c.Close()
			err := c.Remove(context.Background(), "x", true)
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("Remove() = %v, want %v", err, tt.sentinel)
			}
		})
	}
}

// TestObserveRemoval: every answer podman 4.3 gives for a container on its
// way out of podman rm -f is StateMissing, not an error.
func TestObserveRemoval(t *testing.T) {
	const device, name = fleet.DeviceID("dev1"), fleet.DeploymentName("web")
	inspectRemoving := fmt.Sprintf(`{"Id":"0123","Name":"harmony-web","State":{"Status":"removing"},"Config":{"Labels":{%q:%q,%q:%q}}}`,
		fleet.LabelDevice, device, fleet.LabelDeployment, name)
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"404 no such container", 404, `{"cause":"no such container","message":"no container with name or ID \"harmony-web\" found: no such container","response":404}`},
		{"500 not in database", 500, `{"cause":"no such container","message":"container 0123 does not exist in database: no such container","response":500}`},
		{"500 already removed", 500, `{"cause":"container has already been removed","message":"container has already been removed","response":500}`},
		{"state removing", 200, inspectRemoving},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/json") {
					w.WriteHeader(http.StatusOK) // ping
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			r := &Runtime{client: NewClient(sock), cfg: Config{Logf: t.Logf}}
			defer r.Close()
			st, err := r.Observe(context.Background(), device, name)
			if err != nil || st.State != runtime.StateMissing {
				t.Errorf("Observe() = %v, %v; want missing, no error", st.State, err)
			}
		})
	}
}

func TestValidSpecHash(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{fleet.SpecHash(fleet.DeploymentSpec{Image: "x"}), true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{"abc123", false},
		{strings.Repeat("A", 64), false},
		{strings.Repeat("g", 64), false},
		{strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		if got := validSpecHash(tt.in); got != tt.want {
			t.Errorf("validSpecHash(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestListedDeployment(t *testing.T) {
	const device = fleet.DeviceID("dev1")
	hash := strings.Repeat("0", 64)
	c := func(name, deployment, h string) ContainerSummary {
		return ContainerSummary{ID: "0123", Names: []string{name}, Labels: map[string]string{
			fleet.LabelDevice: string(device), fleet.LabelDeployment: deployment, fleet.LabelSpecHash: h}}
	}
	tests := []struct {
		name    string
		in      ContainerSummary
		want    fleet.DeploymentName
		wantErr string
	}{
		{"valid", c("harmony-web", "web", hash), "web", ""},
		{"dot in name", c("harmony-bad.name", "bad.name", hash), "", "label " + fleet.LabelDeployment},
		{"space in name", c("harmony-a b", "a b", hash), "", "label " + fleet.LabelDeployment},
		{"bad hash", c("harmony-web", "web", "abc"), "", "not a spec hash"},
		{"no hash", c("harmony-web", "web", ""), "", "not a spec hash"},
		{"other name", c("web", "web", hash), "", "is not harmony-web"},
		{"other device", ContainerSummary{Names: []string{"harmony-web"}, Labels: map[string]string{
			fleet.LabelDevice: "dev2", fleet.LabelDeployment: "web", fleet.LabelSpecHash: hash}}, "", "is not dev1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := listedDeployment(device, tt.in)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("listedDeployment() = %q, %v; want %q, error containing %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWarnOnce(t *testing.T) {
	var w warnOnce
	var lines []string
	logf := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	for range 3 {
		w.warn(logf, "a", "bad a")
		w.warn(logf, "b", "bad b")
	}
	if want := []string{"bad a", "bad b"}; strings.Join(lines, ",") != strings.Join(want, ",") {
		t.Errorf("logged %q, want %q", lines, want)
	}
}
