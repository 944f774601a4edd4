package natsconn_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

func TestConnectBadOptions(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	empty := writeFile(t, "empty", "\n")
	tests := []struct {
		name string
		o    natsconn.ConnOptions
		want string // in the error
		is   error
	}{
		{"no url", natsconn.ConnOptions{}, "no NATS server URL", natsconn.ErrNoServers},
		{"creds file, fail fast", natsconn.ConnOptions{CredsFile: missing + ".creds", FailFast: true}, "creds file: open " + missing + ".creds", nil},
		{"nkey file", natsconn.ConnOptions{NKeyFile: missing + ".nk"}, "nkey seed file: open " + missing + ".nk", nil},
		{"password file", natsconn.ConnOptions{User: "u", PasswordFile: missing}, "password file: open " + missing, nil},
		{"empty token file", natsconn.ConnOptions{TokenFile: empty}, "token file " + empty + ": empty", nil},
		{"tls ca file", natsconn.ConnOptions{TLSCAFile: missing + ".pem"}, "tls ca file: open " + missing + ".pem", nil},
		{"tls key alone", natsconn.ConnOptions{TLSKeyFile: missing}, "client certificate and key files go together", nil},
		{"two auth kinds", natsconn.ConnOptions{TokenFile: empty, CredsFile: missing}, "conflicting", natsconn.ErrAuthConflict},
		{"user without password", natsconn.ConnOptions{User: "u"}, "user and password go together", natsconn.ErrAuthConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "no url" {
				tt.o.URLs = []string{"nats://127.0.0.1:1"}
			}
			nc, err := natsconn.Connect(tt.o, zap.NewNop())
			if err == nil {
				nc.Close()
				t.Fatalf("Connect(%+v) succeeded, want an error saying %q", tt.o, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Connect error %q does not say %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Connect error %q is not %v", err, tt.is)
			}
		})
	}
}
