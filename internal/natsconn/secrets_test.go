package natsconn_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

func TestCheckSecretMode(t *testing.T) {
	for _, tt := range []struct {
		mode os.FileMode
		bad  bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o644, true}, {0o604, true}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p := writeFile(t, "secret", "s3cret")
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			err := natsconn.CheckSecretMode(p)
			if got := errors.Is(err, natsconn.ErrSecretReadable); got != tt.bad {
				t.Errorf("CheckSecretMode(%v) = %v, want readable %v", tt.mode, err, tt.bad)
			}
		})
	}
}

// TestSecretFileReadableWarns: Connect warns about a token file others
// can read, naming the file, never its content.
func TestSecretFileReadableWarns(t *testing.T) {
	p := writeFile(t, "token", "s3cret-token\n")
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	nc, err := natsconn.Connect(natsconn.ConnOptions{URLs: []string{"nats://127.0.0.1:1"}, TokenFile: p}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	w := logs.FilterMessage("secret file readable by others").All()
	if len(w) != 1 || !strings.Contains(w[0].ContextMap()["error"].(string), p) {
		t.Fatalf("warnings %v, want one naming %s", w, p)
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message+fmtMap(e.ContextMap()), "s3cret-token") {
			t.Errorf("log line %q %v shows the token", e.Message, e.ContextMap())
		}
	}
}

func fmtMap(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

// TestPasswordMaskedInURLs: a password inside a URL is masked in
// RedactURLs and in every error, including that of a URL that does not
// parse.
func TestPasswordMaskedInURLs(t *testing.T) {
	for _, tt := range []struct {
		url     string
		wantErr string // "" valid
	}{
		{"nats://pi:hunter2@10.0.0.1:4222", ""},
		{"http://pi:hunter2@10.0.0.1:4222", `scheme "http" is not one of nats, tls, ws, wss`},
		{"nats://pi:hunter2@10.0.0.1:port", "invalid port"},
		{"nats://pi:hunter2@%zz:4222", "invalid URL escape"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			if s := natsconn.RedactURLs([]string{tt.url}); strings.Contains(s, "hunter2") {
				t.Errorf("RedactURLs(%q) = %q, shows the password", tt.url, s)
			}
			err := natsconn.CheckURL(tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckURL(%q) = %v, want an error saying %q", tt.url, err, tt.wantErr)
			}
			_, cerr := natsconn.Connect(natsconn.ConnOptions{URLs: []string{tt.url}}, zap.NewNop())
			for _, e := range []error{err, cerr} {
				if e == nil || strings.Contains(e.Error(), "hunter2") {
					t.Errorf("error %v shows the password (or is nil)", e)
				}
			}
		})
	}
}
