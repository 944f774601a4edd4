//go:build embednats

package isolation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/config"
)

const (
	sleepSpec = `{"runtime":"process","command":["/bin/sleep","600"]}`
	trueSpec  = `{"runtime":"process","command":["/bin/true"],"restart":"never"}`
	// agentBacklog desired values of bigValueBytes each make the backlog
	// an agent's watch starts with (about 16 MiB: flow control).
	agentBacklog  = 300
	bigValueBytes = 55 << 10
	// backlogTimeout bounds the agent's work through the backlog: 300
	// processes started and reaped, 900 events, on a loaded 2-core
	// machine.
	backlogTimeout = 3 * time.Minute
)

// bigSpec is a desired value of about bigValueBytes: a job whose env
// pads it.
func bigSpec(i int) string {
	return fmt.Sprintf(`{"runtime":"process","command":["/bin/true"],"restart":"never","env":{"N":"%d","PAD":"%s"}}`, i, strings.Repeat("p", bigValueBytes))
}

// TestAgentsSufficient (issue 11, test 1): two enrolled devices run real
// agents with the creds device add issued; a deployment applied to each
// runs, their events and DeviceInfo arrive, through a server restart and
// a desired backlog of 300 values of 55 KiB, and the server logs no
// permission violation.
func TestAgentsSufficient(t *testing.T) {
	e := newEnv(t)
	devices := []fleet.DeviceID{"pi-1", "pi-2"}
	for _, id := range devices {
		e.enrol(t, id, "site=lyon")
		e.putDesired(t, id, "web", sleepSpec)
	}
	cfgs := map[fleet.DeviceID]config.Config{}
	agents := map[fleet.DeviceID]*agentRun{}
	for _, id := range devices {
		cfgs[id] = e.agentConfig(t, id)
		agents[id] = startAgent(t, cfgs[id])
	}
	for _, id := range devices {
		e.waitEvent(t, id, "web", fleet.PhaseRunning)
		e.waitPhase(t, id, "web", fleet.PhaseRunning)
	}
	e.checkNoViolations(t, "normal operation", agents)

	e.restart(t)
	for _, id := range devices {
		e.putDesired(t, id, "after-restart", trueSpec)
	}
	for _, id := range devices {
		e.waitEvent(t, id, "after-restart", fleet.PhaseSucceeded)
		e.waitPhase(t, id, "after-restart", fleet.PhaseSucceeded)
	}
	e.checkNoViolations(t, "a server restart", agents)

	// pi-1's agent starts again with a backlog waiting.
	agents["pi-1"].stopWait(t)
	for i := range agentBacklog {
		e.putDesired(t, "pi-1", fleet.DeploymentName(fmt.Sprintf("b%03d", i)), bigSpec(i))
	}
	agents["pi-1"] = startAgent(t, cfgs["pi-1"])
	pollWithin(t, backlogTimeout, fmt.Sprintf("pi-1's DeviceInfo shows the %d jobs of the backlog succeeded", agentBacklog), func() bool {
		info, ok := e.info(t, "pi-1")
		if !ok {
			return false
		}
		for i := range agentBacklog {
			if info.Deployments[fleet.DeploymentName(fmt.Sprintf("b%03d", i))].Phase != fleet.PhaseSucceeded {
				return false
			}
		}
		return info.Deployments["web"].Phase == fleet.PhaseRunning
	})
	e.waitEvent(t, "pi-1", fleet.DeploymentName(fmt.Sprintf("b%03d", agentBacklog-1)), fleet.PhaseSucceeded)
	e.checkNoViolations(t, "a backlog", agents)

	// Stopping deletes the watches' consumers.
	for _, a := range agents {
		a.stopWait(t)
	}
	if err := e.admin.Flush(); err != nil {
		t.Fatal(err)
	}
	e.checkNoViolations(t, "the agents' stop", agents)
}

// checkNoViolations fails the test if the server logged a permission
// violation, or an agent saw one.
func (e *env) checkNoViolations(t *testing.T, during string, agents map[fleet.DeviceID]*agentRun) {
	t.Helper()
	if v := e.srvLog.violations(); len(v) > 0 {
		t.Errorf("during %s the server logged %d permission violations: %q", during, len(v), v)
	}
	for id, a := range agents {
		if strings.Contains(a.text.String(), "Permissions Violation") {
			t.Errorf("during %s agent %s logged a permission violation:\n%s", during, id, grepLines(a.text.String(), "Permissions Violation"))
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}
