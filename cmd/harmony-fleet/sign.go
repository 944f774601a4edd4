package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// signingKeyEnv names the signing key file when --signing-key is not
// given.
const signingKeyEnv = "HARMONY_FLEET_SIGNING_KEY_FILE"

// maxSigningKeyBytes bounds a signing key file: a seed is 58 characters.
const maxSigningKeyBytes = 4096

// maxCASTries bounds the compare-and-set retries of a signed write that
// raced another writer of the same key.
const maxCASTries = 3

// addSigningKeyFlag adds --signing-key to fs.
func addSigningKeyFlag(fs *pflag.FlagSet) *string {
	return fs.String("signing-key", "", "sign values with the account seed in FILE (harmony-fleet keys new) ($"+signingKeyEnv+")")
}

// resolveSigningKey loads the signing key named by --signing-key, else by
// $HARMONY_FLEET_SIGNING_KEY_FILE; nil when neither is set (values are
// written unsigned).
func resolveSigningKey(fs *pflag.FlagSet, flag string) (nkeys.KeyPair, error) {
	file := flag
	if !fs.Changed("signing-key") {
		file = os.Getenv(signingKeyEnv)
	}
	if file == "" {
		return nil, nil
	}
	kp, err := loadSigningKey(file)
	if err != nil {
		return nil, usagef("%s: --signing-key: %w", fs.Name(), err)
	}
	return kp, nil
}

// loadSigningKey reads the account seed in file, refusing a file that its
// group or others may read.
func loadSigningKey(file string) (nkeys.KeyPair, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by group or others (mode %04o): refused; fix with: chmod 600 %s", file, perm, file)
	}
	data := make([]byte, maxSigningKeyBytes+1)
	n, err := f.Read(data)
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if n > maxSigningKeyBytes {
		return nil, fmt.Errorf("%s: over %d bytes: not a seed", file, maxSigningKeyBytes)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(data[:n]))
	if err != nil {
		return nil, fmt.Errorf("%s: not an nkey seed (want SA..., as harmony-fleet keys new writes)", file)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		kp.Wipe()
		return nil, fmt.Errorf("%s: not an account seed (want SA..., as harmony-fleet keys new writes)", file)
	}
	return kp, nil
}

// applySignedKey writes spec for device's key of deployment name, signed
// by kp at generation max(now in Unix ms, the generation of the key's
// current value + 1). A key already holding spec signed by kp for this
// device and deployment is left unchanged. The write is a compare-and-set
// on the key's revision, retried when another writer got there first.
func applySignedKey(ctx context.Context, kv jetstream.KeyValue, kp nkeys.KeyPair, device fleet.DeviceID, name fleet.DeploymentName, spec fleet.DeploymentSpec) keyResult {
	r := keyResult{Device: device, Key: fleet.DesiredKey(device, name)}
	pub, err := kp.PublicKey()
	if err != nil {
		return failed(r, fmt.Errorf("sign %s: %w", r.Key, err))
	}
	hash := fleet.SpecHash(spec)
	for try := 1; ; try++ {
		var cur []byte
		var rev uint64
		entry, err := kv.Get(ctx, r.Key)
		switch {
		case err == nil:
			cur, rev = entry.Value(), entry.Revision()
			r.Action = "updated"
		case errors.Is(err, jetstream.ErrKeyNotFound):
			r.Action = "created"
		default:
			return failed(r, fmt.Errorf("get %s: %w", r.Key, err))
		}
		last := uint64(0)
		if cur != nil && signed.IsEnvelope(cur) {
			if st, err := signed.Verify(cur, []string{pub}, device, name); err == nil && fleet.SpecHash(st.Spec) == hash {
				r.Action, r.Revision, r.Generation = "unchanged", rev, st.Generation
				return r
			}
			if st, err := signed.Unverified(cur, device, name); err == nil {
				last = st.Generation
			}
		}
		gen := signed.NextGeneration(time.Now(), last)
		value, err := signed.Sign(kp, signed.Statement{DeviceID: device, Deployment: name, Generation: gen, Spec: spec})
		if err != nil {
			return failed(r, fmt.Errorf("sign %s: %w", r.Key, err))
		}
		if cur == nil {
			rev, err = kv.Create(ctx, r.Key, value)
		} else {
			rev, err = kv.Update(ctx, r.Key, value, rev)
		}
		if err != nil {
			if (errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)) && try < maxCASTries {
				continue // another writer: read again, sign above its generation
			}
			return failed(r, fmt.Errorf("put %s: %w", r.Key, err))
		}
		r.Revision, r.Generation = rev, gen
		return r
	}
}
