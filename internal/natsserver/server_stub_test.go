//go:build !embednats

package natsserver_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/internal/natsserver"
)

func TestStartNotCompiled(t *testing.T) {
	if natsserver.Compiled {
		t.Fatal("Compiled = true without the embednats tag")
	}
	s, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if s != nil || !errors.Is(err, natsserver.ErrNotCompiled) {
		t.Fatalf("Start = %v, %v; want nil, ErrNotCompiled", s, err)
	}
	for _, want := range []string{"-tags embednats", "make run", "make build-dev"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error %q does not say %q", err, want)
		}
	}
}
