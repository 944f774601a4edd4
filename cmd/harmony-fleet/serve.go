package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/harmony-edge/harmony-agent/internal/api"
	"github.com/harmony-edge/harmony-agent/internal/controller"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/systemd"
)

const serveHelp = `Usage: harmony-fleet serve [--signing-key FILE] [--http ADDR [--http-token-file FILE]] [--replicas N]
                          [--heartbeat-interval DURATION] [--id NAME] [connection flags]

Runs the fleet controller (ARCHITECTURE 9) until SIGTERM: keeps every fleet
deployment (harmony-fleet deploy) true on every device whose registry
labels match its selector, now and later, rolling new versions out in
waves and halting when they fail.

Run it on two or more hosts: one acts at a time, holding the lease (key
leader of bucket fleet-controller, which expires unless renewed); the others
stand by and one takes over within 10 s when the holder dies. Every write is
a compare-and-set, so a replica that lost its lease cannot overwrite a newer
decision. What harmony-fleet init creates is created when missing (with
--replicas); what exists is used as it is.

--signing-key signs every desired value (ARCHITECTURE 3.8; also
$HARMONY_FLEET_SIGNING_KEY_FILE); without it, bare specs are written, for
agents without trust.keys.
--heartbeat-interval is the agents' heartbeat interval, for agents that do
not report theirs (heartbeat_interval_seconds): a device silent for three
of them is offline, counted unavailable, and updated when it returns.
--http serves the HTTP API, /metrics and the dashboard on ADDR (e.g.
127.0.0.1:8080); off loopback --http-token-file is required.

Under systemd (Type=notify) it sends READY once its first plan is made,
WATCHDOG, and STATUS lines ("acting: 3 deployments, 120 devices" or
"standby").

Examples:
  harmony-fleet serve
  harmony-fleet serve --signing-key /etc/harmony-fleet/signing.nk -s nats://nats-1:4222,nats://nats-2:4222
`

func cmdServe(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("serve")
	key := addSigningKeyFlag(fs)
	httpAddr := fs.String("http", "", "serve the HTTP API and dashboard on ADDR (host:port)")
	tokenFile := fs.String("http-token-file", "", "the API's bearer token, required off loopback (mode 0600)")
	replicas := fs.Int("replicas", 1, fmt.Sprintf("replicas of the buckets it creates (1..%d)", maxReplicas))
	id := fs.String("id", "", "this replica's name in the lease (default HOST-PID)")
	heartbeat := fs.Duration("heartbeat-interval", 30*time.Second, "the agents' heartbeat interval")
	conn := addConnFlags(fs)
	if _, err := parse(fs, serveHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	if *replicas < 1 || *replicas > maxReplicas {
		return usagef("serve: --replicas %d: want 1..%d", *replicas, maxReplicas)
	}
	if *heartbeat <= 0 {
		return usagef("serve: --heartbeat-interval %v: must be positive", *heartbeat)
	}
	kp, err := resolveSigningKey(fs, *key)
	if err != nil {
		return err
	}
	if kp != nil {
		defer kp.Wipe()
	}
	log := newServeLogger(out)
	defer func() { _ = log.Sync() }()
	notify := systemd.New()

	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer nc.Close()
	settings := natsconn.DefaultResourceSettings()
	settings.Replicas = *replicas
	// Create what is missing; what exists is used with the replicas it has.
	if err := natsconn.Ensure(ctx, js, natsconn.FleetResources(settings), natsconn.EnsureOptions{Create: true, IgnoreReplicas: true}); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	c, err := controller.New(controller.Config{JS: js, ID: *id, Signer: kp, HeartbeatInterval: *heartbeat, Log: log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	// The API goroutine is waited for after ctx is cancelled (defers run
	// last first).
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	if *httpAddr != "" {
		live := fleetview.StartLive(ctx, js, fleetview.LiveOptions{})
		defer live.Close()
		srv, err := api.New(api.Options{Addr: *httpAddr, TokenFile: *tokenFile, View: liveView{live}, Rollouts: pauseResume{js}, Log: log.Named("api"),
			EventsFolded: live.Folded, LeaseHeld: func() bool { return c.Status().Leader }})
		if err != nil {
			return usagef("serve: --http: %v", err)
		}
		wg.Go(func() {
			if err := srv.ListenAndServe(ctx); err != nil && ctx.Err() == nil {
				log.Error("http api stopped", zap.String("addr", *httpAddr), zap.Error(err))
			}
		})
		log.Info("http api", zap.String("addr", *httpAddr))
	}

	done := make(chan error, 1) // Run's result; read once
	go func() { done <- c.Run(ctx) }()
	log.Info("serving", zap.String("servers", conn.servers()), zap.Bool("signing", kp != nil))
	_ = notify.Ready()
	interval := time.Second
	if wd, ok := notify.WatchdogInterval(); ok {
		interval = min(interval, wd/2)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			_ = notify.Stopping()
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		case <-tick.C:
			_ = notify.Watchdog()
			s := c.Status()
			if s.Leader {
				_ = notify.Status("acting: %d deployments, %d devices, %d rollouts progressing, %d halted",
					s.Deployments, s.Devices, s.Rollouts["progressing"]+s.Rollouts["rolling_back"], s.Rollouts["halted"])
			} else {
				_ = notify.Status("standby: %d deployments, %d devices", s.Deployments, s.Devices)
			}
		case <-ctx.Done():
			_ = notify.Stopping()
			<-done
			return nil
		}
	}
}

// newServeLogger logs to stderr, console-encoded (journald adds the time).
func newServeLogger(out ioStreams) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(out.stderr), zapcore.InfoLevel)
	return zap.New(core).Named("harmony-fleet")
}
