//go:build embednats

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestConnectionErrors: a scheme nats.go does not speak is refused
// before connecting; an unreachable remote server fails within --timeout
// and does not suggest --dev; a server without JetStream says so.
func TestConnectionErrors(t *testing.T) {
	noJS, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	noJS.Start()
	defer func() {
		noJS.Shutdown()
		noJS.WaitForShutdown()
	}()
	if !noJS.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		want     string
		dontWant string
		within   time.Duration
	}{
		{"http scheme", []string{"devices", "-s", "http://pi:hunter2@127.0.0.1:4222"}, exitUsage, `scheme "http" is not one of nats, tls, ws, wss`, "hunter2", 5 * time.Second},
		{"remote unreachable", []string{"devices", "-s", "nats://10.255.255.1:4222", "--timeout", "1s"}, exitFailure, "no NATS server at nats://10.255.255.1:4222", "--dev", 3 * time.Second},
		{"no jetstream", []string{"devices", "-s", noJS.ClientURL()}, exitFailure, "no JetStream at " + noJS.ClientURL() + ": start nats-server with -js", "no responders available\n", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			code, _, errOut := runCmd(t, tt.args...)
			if took := time.Since(began); took > tt.within {
				t.Errorf("run(%q) took %s, want within %s", tt.args, took, tt.within)
			}
			if code != tt.code || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, tt.dontWant) {
				t.Errorf("run(%q) = %d, stderr %q; want %d saying %q, not %q", tt.args, code, errOut, tt.code, tt.want, tt.dontWant)
			}
		})
	}
}
