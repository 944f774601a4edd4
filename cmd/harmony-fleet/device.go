package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
	"github.com/harmony-edge/harmony-agent/internal/creds"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const deviceHelp = `Usage:
  harmony-fleet device add ID [--label k=v ...] [--account-key FILE [--account PUB|JWTFILE] [--creds-out FILE]]
  harmony-fleet device label ID k=v ... k2- ...
  harmony-fleet device remove ID [--revoke-with DIR | --operator-key FILE --account-jwt FILE [--system-creds FILE]]
  harmony-fleet device permissions ID [--nkey PUB]

add enrols a device: its record (operator-owned labels, enrolment time,
user key) goes to the device-registry bucket (created, history 1, when
missing). With --account-key (an account signing key seed, mode 0600, e.g.
DIR/fleet-signing.nk of "creds bootstrap") it also issues the device's NATS
user, carrying exactly its permissions (see "device permissions"), and
writes its creds file, mode 0600, to --creds-out (default ID.creds). The
account is --account (a public key, or an account JWT file), else the
fleet.jwt next to the key file.

label sets (k=v) and removes (k-) registry labels; selectors match them.
Keys and values: 1-63 bytes of A-Z a-z 0-9 . _ - /.

remove revokes the device's user, then deletes its desired keys and its
record. The revocation is added to the account JWT, signed by the operator
key; with system-account creds it is pushed to the server's full resolver
($SYS.REQ.CLAIMS.UPDATE), else printed for the operator to push. --revoke-with
DIR takes all three from a "creds bootstrap" directory (and updates its
fleet.jwt).

permissions prints the device's permissions as a nats-server authorization
block, for servers configured with users instead of JWTs.

Examples:
  harmony-fleet device add pi-1 --label site=lyon --account-key nats/fleet-signing.nk --creds-out pi-1.creds
  harmony-fleet device label pi-1 role=db site-
  harmony-fleet device remove pi-2 --revoke-with nats
  harmony-fleet device permissions pi-1
`

func cmdDevice(ctx context.Context, out ioStreams, args []string) error {
	if len(args) == 0 {
		return usagef("device: want a subcommand: add, label, remove, permissions (see harmony-fleet device --help)")
	}
	switch args[0] {
	case "add":
		return deviceAdd(ctx, out, args[1:])
	case "label":
		return deviceLabel(ctx, out, args[1:])
	case "remove":
		return deviceRemove(ctx, out, args[1:])
	case "permissions":
		return devicePermissions(out, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(out.stdout, deviceHelp)
		return errHelp
	}
	return usagef("device: unknown subcommand %q (see harmony-fleet device --help)", args[0])
}

// parseDeviceID validates the ID argument of command cmd.
func parseDeviceID(cmd, s string) (fleet.DeviceID, error) {
	id, err := fleet.ParseDeviceID(s)
	if err != nil {
		return "", usagef("%s: %v", cmd, err)
	}
	return id, nil
}

func deviceAdd(ctx context.Context, out ioStreams, args []string) error {
	const cmd = "device add"
	fs := newFlagSet(cmd)
	labels := fs.StringArray("label", nil, "registry label k=v; repeat")
	accountKey := fs.String("account-key", "", "account signing key seed file (0600): issue the device's NATS user")
	account := fs.String("account", "", "the account: its public key (A...) or its JWT file (default: fleet.jwt next to --account-key)")
	credsOut := fs.String("creds-out", "", "where to write the device's creds file, mode 0600 (default ID.creds)")
	conn := addConnFlags(fs)
	rest, err := parse(fs, deviceHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseDeviceID(cmd, rest[0])
	if err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	set := map[string]string{}
	for _, l := range *labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return usagef("%s: --label %q: want k=v", cmd, l)
		}
		if err := fleet.ValidateLabel(k, v); err != nil {
			return usagef("%s: --label: %v", cmd, err)
		}
		set[k] = v
	}
	if *accountKey == "" && (*account != "" || *credsOut != "") {
		return usagef("%s: --account and --creds-out go with --account-key", cmd)
	}
	rec := fleet.DeviceRecord{DeviceID: id, EnrolledAt: time.Now().UTC().Truncate(time.Millisecond)}
	if len(set) > 0 {
		rec.Labels = set
	}
	var credsFile []byte
	if *accountKey != "" {
		kp, err := creds.LoadSeed(*accountKey, nkeys.PrefixByteAccount)
		if err != nil {
			return usagef("%s: --account-key: %w", cmd, err)
		}
		acctPub, err := accountPublicKey(*account, *accountKey)
		if err != nil {
			return usagef("%s: --account: %w", cmd, err)
		}
		credsFile, rec.UserKey, err = creds.IssueDeviceUser(kp, acctPub, id)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if *credsOut == "" {
			*credsOut = string(id) + ".creds"
		}
	}

	kv, closeConn, err := conn.registry(ctx, true)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer closeConn()
	if credsFile != nil {
		// O_EXCL: never overwrite another device's secret.
		f, err := os.OpenFile(*credsOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("%s: write creds: %w", cmd, err)
		}
		_, werr := f.Write(credsFile)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(*credsOut)
			return fmt.Errorf("%s: write creds %s: %w", cmd, *credsOut, werr)
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if _, err := kv.Create(ctx, fleet.DeviceRegistryKey(id), b); err != nil {
		if credsFile != nil {
			_ = os.Remove(*credsOut)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%s: device %s is already enrolled (device remove it first)", cmd, id)
		}
		return fmt.Errorf("%s: write %s %s: %w", cmd, fleet.DeviceRegistryBucket, id, err)
	}
	fmt.Fprintf(out.stdout, "enrolled %s, labels %s\n", id, formatLabels(rec.Labels))
	if credsFile != nil {
		fmt.Fprintf(out.stdout, "user %s, creds in %s (mode 0600): install it as /etc/harmony-agent/device.creds\n", rec.UserKey, *credsOut)
	}
	return nil
}

// accountPublicKey resolves --account: a public key, a JWT file, or
// (empty) the bootstrap's fleet.jwt next to keyFile.
func accountPublicKey(flag, keyFile string) (string, error) {
	if flag != "" && nkeys.IsValidPublicAccountKey(flag) {
		return flag, nil
	}
	path := flag
	if path == "" {
		path = filepath.Join(filepath.Dir(keyFile), creds.AccountJWTFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("want the account's public key (A...) or its JWT file: %w", err)
	}
	return creds.AccountPublicKey(string(b))
}

// registry connects and opens the device-registry bucket (creating it
// with create, see registryBucket); closeConn closes the connection.
func (c *connFlags) registry(ctx context.Context, create bool) (kv jetstream.KeyValue, closeConn func(), err error) {
	nc, js, err := c.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	if kv, err = registryBucket(ctx, js, create); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return kv, nc.Close, nil
}

// registryBucket opens the device-registry bucket; with create, it makes
// it (history 1) when missing.
func registryBucket(ctx context.Context, js jetstream.JetStream, create bool) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, fleet.DeviceRegistryBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound) && create:
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fleet.DeviceRegistryBucket, History: 1, Storage: jetstream.FileStorage})
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", fleet.DeviceRegistryBucket, err)
		}
		return kv, nil
	case errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, fmt.Errorf("bucket %s not found: no device is enrolled (harmony-fleet device add)", fleet.DeviceRegistryBucket)
	case err != nil:
		return nil, fmt.Errorf("open bucket %s: %w", fleet.DeviceRegistryBucket, err)
	}
	return kv, nil
}

// getRecord reads device id's registry record.
func getRecord(ctx context.Context, kv jetstream.KeyValue, id fleet.DeviceID) (fleet.DeviceRecord, uint64, error) {
	e, err := kv.Get(ctx, fleet.DeviceRegistryKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fleet.DeviceRecord{}, 0, fmt.Errorf("device %s is not enrolled", id)
	}
	if err != nil {
		return fleet.DeviceRecord{}, 0, fmt.Errorf("get %s %s: %w", fleet.DeviceRegistryBucket, id, err)
	}
	var rec fleet.DeviceRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return fleet.DeviceRecord{}, 0, fmt.Errorf("%s %s (revision %d): %w", fleet.DeviceRegistryBucket, id, e.Revision(), err)
	}
	if rec.DeviceID != id {
		return fleet.DeviceRecord{}, 0, fmt.Errorf("%s %s (revision %d): holds device %s", fleet.DeviceRegistryBucket, id, e.Revision(), rec.DeviceID)
	}
	return rec, e.Revision(), nil
}

func deviceLabel(ctx context.Context, out ioStreams, args []string) error {
	const cmd = "device label"
	fs := newFlagSet(cmd)
	conn := addConnFlags(fs)
	rest, err := parse(fs, deviceHelp, args, out.stdout, 2, 1<<20)
	if err != nil {
		return err
	}
	id, err := parseDeviceID(cmd, rest[0])
	if err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	set, del := map[string]string{}, []string{}
	for _, a := range rest[1:] {
		if k, ok := strings.CutSuffix(a, "-"); ok && !strings.Contains(a, "=") {
			if err := fleet.ValidateLabel(k, "x"); err != nil {
				return usagef("%s: %q: %v", cmd, a, err)
			}
			del = append(del, k)
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return usagef("%s: %q: want k=v (set) or k- (remove)", cmd, a)
		}
		if err := fleet.ValidateLabel(k, v); err != nil {
			return usagef("%s: %v", cmd, err)
		}
		set[k] = v
	}
	kv, closeConn, err := conn.registry(ctx, false)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer closeConn()
	rec, revision, err := getRecord(ctx, kv, id)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	labels := maps.Clone(rec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, set)
	for _, k := range del {
		delete(labels, k)
	}
	rec.Labels = labels
	if len(labels) == 0 {
		rec.Labels = nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	// Compare-and-set: a concurrent change is not lost silently.
	if _, err := kv.Update(ctx, fleet.DeviceRegistryKey(id), b, revision); err != nil {
		return fmt.Errorf("%s: update %s %s: %w (changed meanwhile? try again)", cmd, fleet.DeviceRegistryBucket, id, err)
	}
	fmt.Fprintf(out.stdout, "%s labels %s\n", id, formatLabels(rec.Labels))
	return nil
}

// revokeFlags say how device remove revokes the user.
type revokeFlags struct {
	with, operatorKey, accountJWT, systemCreds string
}

func addRevokeFlags(fs *pflag.FlagSet) *revokeFlags {
	var r revokeFlags
	fs.StringVar(&r.with, "revoke-with", "", `a "creds bootstrap" directory: its operator.nk, fleet.jwt and sys.creds`)
	fs.StringVar(&r.operatorKey, "operator-key", "", "operator seed file (0600) that signs the account JWT")
	fs.StringVar(&r.accountJWT, "account-jwt", "", "the account JWT file; rewritten with the revocation")
	fs.StringVar(&r.systemCreds, "system-creds", "", "system-account creds: push the account JWT to the full resolver")
	return &r
}

// check fills the paths from --revoke-with and reports whether a
// revocation can be made.
func (r *revokeFlags) check(cmd string) (bool, error) {
	if r.with != "" {
		if r.operatorKey != "" || r.accountJWT != "" || r.systemCreds != "" {
			return false, usagef("%s: --revoke-with excludes --operator-key, --account-jwt and --system-creds", cmd)
		}
		r.operatorKey = filepath.Join(r.with, creds.OperatorKeyFile)
		r.accountJWT = filepath.Join(r.with, creds.AccountJWTFile)
		r.systemCreds = filepath.Join(r.with, creds.SystemCredsFile)
	}
	switch {
	case (r.operatorKey == "") != (r.accountJWT == ""):
		return false, usagef("%s: --operator-key and --account-jwt go together", cmd)
	case r.systemCreds != "" && r.operatorKey == "":
		return false, usagef("%s: --system-creds needs --operator-key and --account-jwt", cmd)
	}
	return r.operatorKey != "", nil
}

// claimsUpdateSubject is where a full resolver takes an account JWT, from
// a system-account user.
const claimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE"

func deviceRemove(ctx context.Context, out ioStreams, args []string) error {
	const cmd = "device remove"
	fs := newFlagSet(cmd)
	rv := addRevokeFlags(fs)
	conn := addConnFlags(fs)
	rest, err := parse(fs, deviceHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseDeviceID(cmd, rest[0])
	if err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	canRevoke, err := rv.check(cmd)
	if err != nil {
		return err
	}
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	reg, err := registryBucket(ctx, js, false)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	rec, _, err := getRecord(ctx, reg, id)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}

	// Revoke first: a failure leaves the record, and its user key, for
	// another try.
	switch {
	case rec.UserKey == "":
		fmt.Fprintf(out.stdout, "%s has no user issued by harmony-fleet: nothing to revoke\n", id)
	case !canRevoke:
		fmt.Fprintf(out.stderr, "harmony-fleet: warning: user %s of %s is NOT revoked: give --revoke-with DIR or --operator-key and --account-jwt\n", rec.UserKey, id)
	default:
		if err := revokeUser(ctx, out, conn, rv, id, rec.UserKey); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
	}

	desired, err := fleetview.OpenBucket(ctx, js, fleet.DesiredStateBucket)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	keys, err := desired.ListKeysFiltered(ctx, fleet.DesiredFilter(id))
	if err != nil {
		return fmt.Errorf("%s: list %s %s: %w", cmd, fleet.DesiredStateBucket, fleet.DesiredFilter(id), err)
	}
	var deleted []string
	for k := range keys.Keys() {
		if err := desired.Delete(ctx, k); err != nil {
			return fmt.Errorf("%s: delete %s %s: %w", cmd, fleet.DesiredStateBucket, k, err)
		}
		deleted = append(deleted, k)
	}
	if err := reg.Delete(ctx, fleet.DeviceRegistryKey(id)); err != nil {
		return fmt.Errorf("%s: delete %s %s: %w", cmd, fleet.DeviceRegistryBucket, id, err)
	}
	slices.Sort(deleted)
	fmt.Fprintf(out.stdout, "removed %s: record and %d desired keys deleted %v\n", id, len(deleted), deleted)
	return nil
}

// revokeUser adds the revocation of userPub to the account JWT, writes
// the file back, and pushes it with the system creds when given, else
// prints it.
func revokeUser(ctx context.Context, out ioStreams, conn *connFlags, rv *revokeFlags, id fleet.DeviceID, userPub string) error {
	op, err := creds.LoadSeed(rv.operatorKey, nkeys.PrefixByteOperator)
	if err != nil {
		return usagef("--operator-key: %w", err)
	}
	old, err := os.ReadFile(rv.accountJWT)
	if err != nil {
		return usagef("--account-jwt: %w", err)
	}
	token, err := creds.Revoke(string(old), op, userPub, time.Now())
	if err != nil {
		return err
	}
	if err := atomicfile.Write(rv.accountJWT, []byte(token+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", rv.accountJWT, err)
	}
	if rv.systemCreds == "" {
		fmt.Fprintf(out.stdout, "user %s of %s revoked in %s; push it to the servers' resolver (nsc push, or $SYS.REQ.CLAIMS.UPDATE):\n%s\n", userPub, id, rv.accountJWT, token)
		return nil
	}
	sys := *conn
	sys.creds, sys.nkey, sys.user, sys.password, sys.token = rv.systemCreds, "", "", "", ""
	sys.passwordFile, sys.tokenFile = "", ""
	snc, err := sys.connectCore()
	if err != nil {
		return fmt.Errorf("connect with the system creds: %w", err)
	}
	defer snc.Close()
	if err := pushAccountJWT(ctx, snc, token, conn.timeout); err != nil {
		return fmt.Errorf("revoke %s: the account JWT in %s has the revocation, but %w", userPub, rv.accountJWT, err)
	}
	fmt.Fprintf(out.stdout, "user %s of %s revoked; account JWT pushed to the resolver\n", userPub, id)
	return nil
}

// pushAccountJWT sends an account JWT to the servers' full resolver
// through a system-account connection and checks the answer.
func pushAccountJWT(ctx context.Context, nc *nats.Conn, token string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, claimsUpdateSubject, []byte(token))
	if err != nil {
		return fmt.Errorf("push %s: %w (is the resolver a full resolver?)", claimsUpdateSubject, err)
	}
	var resp struct {
		Data *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"data"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("push %s: answer %q: %w", claimsUpdateSubject, msg.Data, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("push %s: %d %s", claimsUpdateSubject, resp.Error.Code, resp.Error.Description)
	}
	if resp.Data == nil || resp.Data.Code != 200 {
		return fmt.Errorf("push %s: answer %s", claimsUpdateSubject, msg.Data)
	}
	return nil
}

func devicePermissions(out ioStreams, args []string) error {
	const cmd = "device permissions"
	fs := newFlagSet(cmd)
	nkey := fs.String("nkey", "", "the device's nkey public key (U...), instead of a user and password")
	rest, err := parse(fs, deviceHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	id, err := parseDeviceID(cmd, rest[0])
	if err != nil {
		return err
	}
	if *nkey != "" && !nkeys.IsValidPublicUserKey(*nkey) {
		return usagef("%s: --nkey %q: not a user public key (U...)", cmd, *nkey)
	}
	fmt.Fprint(out.stdout, creds.ServerAuthorizationBlock(id, *nkey))
	return nil
}

// listDeviceRecords reads every record of the device-registry bucket;
// records that do not decode are returned apart, as errors. A missing
// bucket is an error: no device is enrolled.
func listDeviceRecords(ctx context.Context, js jetstream.JetStream) ([]fleet.DeviceRecord, []error, error) {
	kv, err := registryBucket(ctx, js, false)
	if err != nil {
		return nil, nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, fmt.Errorf("watch %s: %w", fleet.DeviceRegistryBucket, err)
	}
	defer func() { _ = w.Stop() }()
	var recs []fleet.DeviceRecord
	var bad []error
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("read %s: %w", fleet.DeviceRegistryBucket, ctx.Err())
		}
		if e == nil { // every stored record seen
			return recs, bad, nil
		}
		var rec fleet.DeviceRecord
		switch err := json.Unmarshal(e.Value(), &rec); {
		case err != nil:
			bad = append(bad, fmt.Errorf("%s %s (revision %d): %w", fleet.DeviceRegistryBucket, e.Key(), e.Revision(), err))
		case fleet.DeviceRegistryKey(rec.DeviceID) != e.Key():
			bad = append(bad, fmt.Errorf("%s %s (revision %d): holds device %s", fleet.DeviceRegistryBucket, e.Key(), e.Revision(), rec.DeviceID))
		default:
			recs = append(recs, rec)
		}
	}
}
