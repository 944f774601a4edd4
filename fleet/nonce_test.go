package fleet_test

import (
	"regexp"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func TestNewMsgIDNonce(t *testing.T) {
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 100 {
		n := fleet.NewMsgIDNonce()
		if !hex16.MatchString(n) {
			t.Fatalf("NewMsgIDNonce() = %q, want 16 lower-case hex characters", n)
		}
		if seen[n] {
			t.Fatalf("NewMsgIDNonce() = %q twice in 100 draws", n)
		}
		seen[n] = true
	}
}
