package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/harmony-edge/harmony-agent/fleet"
)

const logsHelp = `Usage: harmony-fleet logs DEVICE DEPLOYMENT [--tail N] [--follow] [--timestamps] [flags]

Prints the last lines of a deployment's output on one device, asked of its
agent (fleet.device.DEVICE.logs): stdout and stderr interleaved, the
process runtime's log files or podman's logs. --tail counts lines, as
"docker logs --tail" does (default 100); an answer holds at most 64 KiB,
and says when older lines were cut. With --follow it then prints new
output as it comes, until interrupted (Ctrl-C) or the agent ends the
stream (after 10 minutes). --timestamps prefixes each line with the time
this command received it.

Examples:
  harmony-fleet logs pi-017 web
  harmony-fleet logs pi-017 web --tail 20 --follow
`

const restartHelp = `Usage: harmony-fleet restart DEPLOYMENT --device ID [flags]

Asks the device's agent to stop and start the deployment's workload. The
agent queues it on the deployment's worker and answers at once; the
transitions (running -> pending -> running) follow as events
("harmony-fleet events --device ID --deployment DEPLOYMENT").
`

const pingHelp = `Usage: harmony-fleet ping DEVICE [--count N] [flags]

Asks the device's agent for its version, epoch, uptime, connection and
deployments by phase, and prints the round-trip time of each answer, then
min/avg/max, as ping does.
`

func init() {
	commands["logs"] = cmdLogs
	commands["restart"] = cmdRestart
	commands["ping"] = cmdPing
}

// followWait is how long each pull of a follow waits on the agent.
const followWait = 2 * time.Second

func cmdLogs(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("logs")
	tail := fs.IntP("tail", "n", fleet.DefaultTailLines, "how many of the last lines to print")
	follow := fs.BoolP("follow", "f", false, "keep printing new output until interrupted")
	stamps := fs.BoolP("timestamps", "t", false, "prefix each line with the time it was received")
	conn := addConnFlags(fs)
	pos, err := parse(fs, logsHelp, args, out.stdout, 2, 2)
	if err != nil {
		return err
	}
	const cmd = "logs"
	dev, name, err := parseDeviceDeployment(cmd, pos[0], pos[1])
	if err != nil {
		return err
	}
	if *tail < 0 || *tail > fleet.MaxTailLines {
		return usagef("%s: --tail %d: want 0..%d", cmd, *tail, fleet.MaxTailLines)
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	nc, _, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	w := &lineWriter{w: out.stdout, stamps: *stamps, bol: true}
	req := fleet.LogsRequest{Deployment: name, TailLines: *tail, Follow: *follow}
	if *tail == 0 {
		if !*follow {
			return nil // nothing asked for
		}
		req.TailLines = 1 // on the wire 0 is the default: ask for the least, print none
	}
	var reply fleet.LogsReply
	if err := opRequest(ctx, nc, dev, fleet.OpLogs, req, &reply, conn.timeout); err != nil {
		return fmt.Errorf("%s %s %s: %w", cmd, dev, name, err)
	}
	if *tail > 0 {
		w.write(reply.Output)
		if reply.Truncated {
			fmt.Fprintf(out.stderr, "harmony-fleet: %s: older output cut to fit %d KiB\n", cmd, fleet.MaxLogsBytes>>10)
		}
	}
	if !*follow {
		return nil
	}
	stream := reply.Stream
	for {
		pull := fleet.LogsRequest{Deployment: name, Follow: true, Stream: stream, WaitMillis: int(followWait / time.Millisecond)}
		var r fleet.LogsReply
		err := opRequest(ctx, nc, dev, fleet.OpLogs, pull, &r, followWait+conn.timeout)
		if ctx.Err() != nil {
			// Interrupted: tell the agent, on a short context of its own.
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			stop := fleet.LogsRequest{Deployment: name, Follow: true, Stream: stream, Stop: true}
			_ = opRequest(sctx, nc, dev, fleet.OpLogs, stop, &r, time.Second)
			cancel()
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s %s %s: %w", cmd, dev, name, err)
		}
		w.write(r.Output)
		if r.End != "" {
			fmt.Fprintf(out.stderr, "harmony-fleet: %s: stream ended (%s)\n", cmd, r.End)
			return nil
		}
	}
}

func cmdRestart(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("restart")
	device := fs.StringP("device", "d", "", "the device (required)")
	conn := addConnFlags(fs)
	pos, err := parse(fs, restartHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	const cmd = "restart"
	if *device == "" {
		return usagef("%s: --device: required", cmd)
	}
	dev, name, err := parseDeviceDeployment(cmd, *device, pos[0])
	if err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	nc, _, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	var r fleet.RestartReply
	if err := opRequest(ctx, nc, dev, fleet.OpRestart, fleet.RestartRequest{Deployment: name}, &r, conn.timeout); err != nil {
		return fmt.Errorf("%s %s on %s: %w", cmd, name, dev, err)
	}
	fmt.Fprintf(out.stdout, "%s on %s: restart %s\n", name, dev, r.Status)
	return nil
}

func cmdPing(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("ping")
	count := fs.IntP("count", "c", 4, "how many pings")
	interval := fs.DurationP("interval", "i", time.Second, "the time between pings")
	conn := addConnFlags(fs)
	pos, err := parse(fs, pingHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	const cmd = "ping"
	dev, err := fleet.ParseDeviceID(pos[0])
	if err != nil {
		return usagef("%s: DEVICE: %v", cmd, err)
	}
	if *count < 1 {
		return usagef("%s: --count %d: want at least 1", cmd, *count)
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	nc, _, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	var rtts []time.Duration
	var lastErr error
	sent := 0
	for i := range *count {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(*interval):
			}
		}
		if ctx.Err() != nil {
			break
		}
		var r fleet.PingReply
		sent++
		start := time.Now()
		err := opRequest(ctx, nc, dev, fleet.OpPing, struct{}{}, &r, conn.timeout)
		rtt := time.Since(start)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			lastErr = err
			fmt.Fprintf(out.stdout, "%s: seq=%d %v\n", dev, i+1, err)
			continue
		}
		rtts = append(rtts, rtt)
		fmt.Fprintf(out.stdout, "%s: seq=%d version=%s epoch=%d uptime=%s connection=%s deployments=%s time=%s\n",
			dev, i+1, r.AgentVersion, r.AgentEpoch, (time.Duration(r.UptimeSeconds) * time.Second).String(), r.Connection, phaseCounts(r.Deployments), ms(rtt))
	}
	fmt.Fprint(out.stdout, pingSummary(dev, rtts, sent))
	if len(rtts) == 0 && lastErr != nil {
		return fmt.Errorf("%s %s: %w", cmd, dev, lastErr)
	}
	return nil
}

// pingSummary is ping's last lines: received of sent, and min/avg/max.
func pingSummary(dev fleet.DeviceID, rtts []time.Duration, sent int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s ping ---\n%d sent, %d received\n", dev, sent, len(rtts))
	if len(rtts) == 0 {
		return b.String()
	}
	lo, hi, sum := rtts[0], rtts[0], time.Duration(0)
	for _, d := range rtts {
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	fmt.Fprintf(&b, "rtt min/avg/max = %s/%s/%s\n", ms(lo), ms(sum/time.Duration(len(rtts))), ms(hi))
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// phaseCounts prints {running: 2, failed: 1} as running=2,failed=1 in
// the order of fleet.Phases.
func phaseCounts(m map[fleet.Phase]int) string {
	var parts []string
	for _, p := range fleet.Phases {
		if m[p] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", p, m[p]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

func parseDeviceDeployment(cmd, device, deployment string) (fleet.DeviceID, fleet.DeploymentName, error) {
	dev, err := fleet.ParseDeviceID(device)
	if err != nil {
		return "", "", usagef("%s: device: %v", cmd, err)
	}
	name, err := fleet.ParseDeploymentName(deployment)
	if err != nil {
		return "", "", usagef("%s: DEPLOYMENT: %v", cmd, err)
	}
	return dev, name, nil
}

// errNoAgent says what "no responders" means for a device operation.
var errNoAgent = errors.New("no agent answers for this device (offline, or its agent predates device operations)")

// opRequest sends req to dev's operation op and decodes the answer into
// out; an {"error":...} answer is returned as an error.
func opRequest(ctx context.Context, nc *nats.Conn, dev fleet.DeviceID, op string, req, out any, timeout time.Duration) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, fleet.DeviceOpSubject(dev, op), b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return errNoAgent
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer within %v", timeout)
	case err != nil:
		return err
	}
	return fleet.DecodeOpReply(m.Data, out)
}

// lineWriter writes output, prefixing each line with the time when stamps
// is set; bol reports whether the next byte starts a line.
type lineWriter struct {
	w      io.Writer
	stamps bool
	bol    bool
}

func (l *lineWriter) write(s string) {
	if !l.stamps {
		io.WriteString(l.w, s)
		return
	}
	now := time.Now().Format(time.RFC3339Nano)
	var b strings.Builder
	for len(s) > 0 {
		if l.bol {
			b.WriteString(now + " ")
		}
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			b.WriteString(s)
			l.bol = false
			break
		}
		b.WriteString(s[:i+1])
		s, l.bol = s[i+1:], true
	}
	io.WriteString(l.w, b.String())
}
