// Command natsserver runs the project's embedded nats-server
// (internal/natsserver: JetStream on, loopback only) as a process of its
// own, for the end-to-end test in test/e2e, which starts, stops and
// restarts it like a real server:
//
//	natsserver [-p PORT] -sd STOREDIR
//
// -p 0 (the default) picks a free port. Once the server accepts
// connections, the command prints one line to stdout, "ready URL", and
// logs to stderr. SIGTERM or SIGINT shuts the server down cleanly (its
// JetStream store flushed), and the command exits 0. A server started
// again on the same port and store directory keeps its streams and
// buckets.
//
// It needs the embednats build tag (go build -tags embednats); without it
// it exits 2 saying so.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/internal/natsserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("natsserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("p", 0, "client port on 127.0.0.1; 0 picks a free one")
	storeDir := fs.String("sd", "", "JetStream store directory (required)")
	debug := fs.Bool("D", false, "log the server's debug lines")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *storeDir == "" {
		fmt.Fprintln(stderr, "usage: natsserver [-p PORT] -sd STOREDIR")
		return 2
	}
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	if *debug {
		level.SetLevel(zap.DebugLevel)
	}
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = level
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	log, err := cfg.Build()
	if err != nil {
		fmt.Fprintf(stderr, "natsserver: logger: %v\n", err)
		return 1
	}
	defer log.Sync() //nolint:errcheck // stderr may not sync

	srv, err := natsserver.Start(natsserver.Options{Port: *port, StoreDir: *storeDir, Log: log})
	if errors.Is(err, natsserver.ErrNotCompiled) {
		fmt.Fprintf(stderr, "natsserver: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "natsserver: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ready %s\n", srv.ClientURL())
	<-ctx.Done()
	log.Info("shutting down")
	srv.Shutdown()
	log.Info("stopped")
	return 0
}
