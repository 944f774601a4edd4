package agent

import (
	"errors"
	"fmt"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// ErrUnknownDeployment is returned for a deployment no desired key asks
// for.
var ErrUnknownDeployment = errors.New("agent: unknown deployment")

// ErrInvalidDesired is returned by Restart for a deployment whose desired
// value is invalid: there is nothing valid to start again.
var ErrInvalidDesired = errors.New("agent: desired value is invalid")

// Restart asks for name's workload to be stopped and started again. It
// only queues the request: the deployment's worker does it, in its turn
// (one worker per deployment still holds), recording running -> pending
// -> running (or whatever the start then gives), and a pending backoff is
// cut short. ErrUnknownDeployment when no desired key asks for name.
func (a *Agent) Restart(name fleet.DeploymentName) error {
	a.mu.Lock()
	d := a.deps[name]
	switch {
	case d == nil || !d.desired:
		a.mu.Unlock()
		return fmt.Errorf("restart %s: %w", name, ErrUnknownDeployment)
	case d.hash == "":
		a.mu.Unlock()
		return fmt.Errorf("restart %s: %w: %v", name, ErrInvalidDesired, d.specErr)
	}
	d.restart = true
	a.resetBackoffLocked(d) // an operator's restart gets a fresh start
	a.mu.Unlock()
	a.q.add(name)
	return nil
}

// RuntimeOf returns the runtime kind that holds (or will hold) name's
// workload: the one its desired spec names. ErrUnknownDeployment when no
// desired key asks for name.
func (a *Agent) RuntimeOf(name fleet.DeploymentName) (fleet.RuntimeKind, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.deps[name]
	if d == nil || !d.desired {
		return "", fmt.Errorf("deployment %s: %w", name, ErrUnknownDeployment)
	}
	return d.spec.Runtime, nil
}

// takeRestart reports whether a restart was asked for, and clears it;
// Agent.mu is held.
func (d *deployment) takeRestart() bool {
	r := d.restart
	d.restart = false
	return r
}
