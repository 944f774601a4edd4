package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/nats-io/nkeys"
)

const keysHelp = `Usage: harmony-fleet keys new -o FILE
       harmony-fleet keys public FILE

keys new makes a signing key: a NATS account nkey. Its seed (SA..., the
secret) is written to FILE, readable by its owner only (0600); an existing
FILE is never overwritten. Its public key (A...) is printed: put it in the
devices' trust.keys, and sign with --signing-key FILE (apply).

keys public prints the public key of the seed in FILE.

To rotate: make a new key, add its public key to trust.keys next to the
old one on every device, sign with the new key, then drop the old key.

Examples:
  harmony-fleet keys new -o ~/.config/harmony/signing.nk
  harmony-fleet keys public ~/.config/harmony/signing.nk
`

func cmdKeys(_ context.Context, out ioStreams, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "new":
			return cmdKeysNew(out, args[1:])
		case "public":
			return cmdKeysPublic(out, args[1:])
		}
	}
	fs := newFlagSet("keys")
	if _, err := parse(fs, keysHelp, args, out.stdout, 1, 1); err != nil {
		return err
	}
	return usagef("keys: unknown subcommand %q: want new or public (see harmony-fleet keys --help)", args[0])
}

func cmdKeysNew(out ioStreams, args []string) error {
	fs := newFlagSet("keys new")
	file := fs.StringP("output", "o", "", "file to write the seed to (must not exist)")
	if _, err := parse(fs, keysHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	if *file == "" {
		return usagef("keys new: say where to write the seed: -o FILE")
	}
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return fmt.Errorf("keys new: %w", err)
	}
	defer kp.Wipe()
	pub, err := writeSeed(kp, *file)
	if err != nil {
		return fmt.Errorf("keys new: %w", err)
	}
	fmt.Fprintln(out.stdout, pub)
	fmt.Fprintf(out.stderr, "harmony-fleet: wrote the seed to %s (keep it secret); put the public key above in the devices' trust.keys\n", *file)
	return nil
}

// writeSeed writes kp's seed to a new file, mode 0600, synced, and returns
// kp's public key. It refuses an existing file.
func writeSeed(kp nkeys.KeyPair, file string) (string, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%s exists: not overwriting a key (remove it first, or choose another file)", file)
	}
	if err != nil {
		return "", err
	}
	_, err = f.Write(append(seed, '\n'))
	clear(seed)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return pub, nil
}

func cmdKeysPublic(out ioStreams, args []string) error {
	fs := newFlagSet("keys public")
	rest, err := parse(fs, keysHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	kp, err := loadSigningKey(rest[0])
	if err != nil {
		return usagef("keys public: %w", err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("keys public: %w", err)
	}
	fmt.Fprintln(out.stdout, pub)
	return nil
}
