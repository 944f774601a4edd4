package aggregate

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces doc.go: the standard library and fleet only.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/harmony-edge/harmony-agent/fleet":           true,
		"github.com/harmony-edge/harmony-agent/fleet/aggregate": true,
	}
	for _, dep := range strings.Fields(string(out)) {
		if !allowed[dep] {
			t.Errorf("fleet/aggregate depends on %s; it may import the standard library and fleet only", dep)
		}
	}
}
