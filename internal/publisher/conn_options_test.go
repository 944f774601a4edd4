package publisher_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/internal/publisher"
)

func TestConnectBadOptions(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	empty := writeFile(t, "empty", "\n")
	tests := []struct {
		name string
		o    publisher.ConnOptions
		want string // in the error
		is   error
	}{
		{"no url", publisher.ConnOptions{}, "no NATS server URL", publisher.ErrNoServers},
		{"creds file", publisher.ConnOptions{CredsFile: missing + ".creds"}, "creds file: open " + missing + ".creds", nil},
		{"nkey file", publisher.ConnOptions{NKeyFile: missing + ".nk"}, "nkey seed file: open " + missing + ".nk", nil},
		{"password file", publisher.ConnOptions{User: "u", PasswordFile: missing}, "password file: open " + missing, nil},
		{"empty token file", publisher.ConnOptions{TokenFile: empty}, "token file " + empty + ": empty", nil},
		{"tls ca file", publisher.ConnOptions{TLSCAFile: missing + ".pem"}, "tls ca file: open " + missing + ".pem", nil},
		{"tls key alone", publisher.ConnOptions{TLSKeyFile: missing}, "client certificate and key files go together", nil},
		{"two auth kinds", publisher.ConnOptions{TokenFile: empty, CredsFile: missing}, "conflicting", publisher.ErrAuthConflict},
		{"user without password", publisher.ConnOptions{User: "u"}, "user and password go together", publisher.ErrAuthConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "no url" {
				tt.o.URLs = []string{"nats://127.0.0.1:1"}
			}
			nc, err := publisher.Connect(tt.o, zap.NewNop())
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
