//go:build embednats

package e2e

import (
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// signer signs desired values as harmony-fleet apply --signing-key does
// (fleet/signed, an account nkey), for agents whose trust.keys name
// its public key.
type signer struct {
	kp   nkeys.KeyPair
	pub  string
	last uint64 // the last generation signed, for signed.NextGeneration
}

func newSigner(b *testing.B) *signer {
	b.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		b.Fatalf("nkeys.CreateAccount: %v", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		b.Fatalf("public key: %v", err)
	}
	return &signer{kp: kp, pub: pub}
}

// sign returns the signed envelope of spec (a DeploymentSpec's JSON) for
// device's deployment name, with a generation newer than every earlier one.
func (s *signer) sign(b *testing.B, device fleet.DeviceID, name fleet.DeploymentName, spec []byte) []byte {
	b.Helper()
	sp, err := fleet.DecodeSpec(spec)
	if err != nil {
		b.Fatalf("DecodeSpec(%s): %v", spec, err)
	}
	s.last = signed.NextGeneration(time.Now(), s.last)
	env, err := signed.Sign(s.kp, signed.Statement{DeviceID: device, Deployment: name, Generation: s.last, Spec: sp})
	if err != nil {
		b.Fatalf("sign %s: %v", name, err)
	}
	return env
}
