package creds

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// ErrInsecureFile is returned by LoadSeed for a seed file that group or
// others can read.
var ErrInsecureFile = errors.New("creds: file readable by group or others")

// IssueDeviceUser makes a new NATS user for device id, named id, carrying
// exactly DevicePermissions(id), its JWT signed by accountSigningKey (the
// account's own key, or one of its signing keys, in which case the JWT
// names accountPub as its issuer account). It returns the .creds file (JWT
// and the user's seed: a secret, write it 0600) and the user's public key.
func IssueDeviceUser(accountSigningKey nkeys.KeyPair, accountPub string, id fleet.DeviceID) (creds []byte, userPub string, err error) {
	if err := id.Validate(); err != nil {
		return nil, "", fmt.Errorf("issue user: %w", err)
	}
	return issueUser(accountSigningKey, accountPub, string(id), DevicePermissions(id).JWT())
}

// issueUser makes a user named name with perms, signed by signer for
// account accountPub.
func issueUser(signer nkeys.KeyPair, accountPub, name string, perms jwt.Permissions) ([]byte, string, error) {
	if !nkeys.IsValidPublicAccountKey(accountPub) {
		return nil, "", fmt.Errorf("issue user %s: %q is not an account public key (A...)", name, accountPub)
	}
	signerPub, err := signer.PublicKey()
	if err != nil {
		return nil, "", fmt.Errorf("issue user %s: signing key: %w", name, err)
	}
	if !nkeys.IsValidPublicAccountKey(signerPub) {
		return nil, "", fmt.Errorf("issue user %s: signing key %s is not an account key", name, signerPub)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", fmt.Errorf("issue user %s: %w", name, err)
	}
	userPub, err := user.PublicKey()
	if err != nil {
		return nil, "", fmt.Errorf("issue user %s: %w", name, err)
	}
	seed, err := user.Seed()
	if err != nil {
		return nil, "", fmt.Errorf("issue user %s: %w", name, err)
	}
	uc := jwt.NewUserClaims(userPub)
	uc.Name = name
	uc.Permissions = perms
	if signerPub != accountPub {
		uc.IssuerAccount = accountPub
	}
	token, err := uc.Encode(signer)
	if err != nil {
		return nil, "", fmt.Errorf("issue user %s: sign: %w", name, err)
	}
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		return nil, "", fmt.Errorf("issue user %s: format creds: %w", name, err)
	}
	return creds, userPub, nil
}

// Revoke adds a revocation of user userPub (every JWT of it issued up to
// at) to accountJWT and returns the account JWT signed again with
// operatorKey (account JWTs are signed by the operator, or one of its
// signing keys). Pushing it to the servers' resolver is the caller's job.
func Revoke(accountJWT string, operatorKey nkeys.KeyPair, userPub string, at time.Time) (string, error) {
	if !nkeys.IsValidPublicUserKey(userPub) {
		return "", fmt.Errorf("revoke %q: not a user public key (U...)", userPub)
	}
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(accountJWT))
	if err != nil {
		return "", fmt.Errorf("revoke %s: account jwt: %w", userPub, err)
	}
	opPub, err := operatorKey.PublicKey()
	if err != nil || !nkeys.IsValidPublicOperatorKey(opPub) {
		return "", fmt.Errorf("revoke %s: the signing key is not an operator key", userPub)
	}
	ac.RevokeAt(userPub, at)
	token, err := ac.Encode(operatorKey)
	if err != nil {
		return "", fmt.Errorf("revoke %s: sign account %s: %w", userPub, ac.Subject, err)
	}
	return token, nil
}

// IsRevoked reports whether accountJWT revokes user userPub's JWTs issued
// at issuedAt.
func IsRevoked(accountJWT, userPub string, issuedAt time.Time) (bool, error) {
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(accountJWT))
	if err != nil {
		return false, fmt.Errorf("account jwt: %w", err)
	}
	return ac.Revocations.IsRevoked(userPub, issuedAt), nil
}

// AccountPublicKey returns the subject (the account's public key) of
// accountJWT.
func AccountPublicKey(accountJWT string) (string, error) {
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(accountJWT))
	if err != nil {
		return "", fmt.Errorf("account jwt: %w", err)
	}
	return ac.Subject, nil
}

// LoadSeed reads an nkey seed from path: a file holding the seed alone,
// or a .creds-style file with a seed block. It refuses a file that group
// or others can read (ErrInsecureFile), and a seed whose type is not want
// (nkeys.PrefixByteAccount, nkeys.PrefixByteOperator).
func LoadSeed(path string, want nkeys.PrefixByte) (nkeys.KeyPair, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read seed %s: %w (mode %04o): chmod 600 it", path, ErrInsecureFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	kp, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	prefix, _, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	if prefix != want {
		return nil, fmt.Errorf("read seed %s: a %s seed, want %s", path, prefix, want)
	}
	return kp, nil
}
