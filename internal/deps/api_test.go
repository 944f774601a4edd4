package deps

import (
	"strings"
	"testing"
)

// TestAgentHasNoAPI: the agent binary never contains the HTTP API, the
// dashboard or the Prometheus client (ARCHITECTURE 2).
func TestAgentHasNoAPI(t *testing.T) {
	m := loadModule(t)
	forbidden := []string{m.path + "/internal/api", "github.com/prometheus/", "github.com/chromedp/"}
	for _, p := range m.nonStandardDeps(t, "cmd/harmony-agent") {
		for _, f := range forbidden {
			if strings.HasPrefix(p.ImportPath, f) {
				t.Errorf("cmd/harmony-agent compiles %s; the agent binary must not contain the API", p.ImportPath)
			}
		}
	}
}
