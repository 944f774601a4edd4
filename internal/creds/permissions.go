package creds

import (
	"fmt"
	"strings"

	"github.com/nats-io/jwt/v2"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// RespMaxMsgs is how many replies a device may send to each request it
// received (jwt.ResponsePermission.MaxMsgs).
const RespMaxMsgs = 1

// Permissions is a NATS user's publish and subscribe allow lists and its
// response permission. Everything not allowed is denied.
type Permissions struct {
	PubAllow []string
	SubAllow []string
	// RespMaxMsgs, when positive, lets the user reply that many times to
	// each request it received.
	RespMaxMsgs int
}

// kvSubjectPrefix is the subject prefix of KV bucket b's keys.
func kvSubjectPrefix(b string) string { return "$KV." + b + "." }

// kvStream is the stream behind KV bucket b.
func kvStream(b string) string { return "KV_" + b }

// DevicePermissions is the permission set of device id's NATS user,
// ARCHITECTURE 8.1: the one place in code that defines it. It adds one
// subject to 8.1's list, $JS.API.CONSUMER.DELETE.KV_desired-state.*
// (test/isolation shows nats.go v1.55 needs it). The DELETE subject names
// no filter, so it is not limited to the device's own consumers: a device
// could delete another client's consumer of desired-state if it knew its
// name, a random 8-character name it cannot list. Ordered consumers
// recreate themselves; nothing is read or written through it.
//
//   - put its own DeviceInfo (a JetStream publish, acked to its inbox);
//   - publish its own events;
//   - look up the two buckets it binds to (STREAM.INFO);
//   - create a consumer on desired-state only with a filter on its own
//     keys (the server checks the request body's filter against the
//     subject's), delete a consumer of desired-state (nats.go deletes its
//     ordered consumer on Stop and on every reset, such as after a server
//     restart: without it the server refuses, and Stop waits out its
//     timeout), and answer flow control;
//   - receive on its own inbox prefix and its own operation subjects, and
//     reply once to each request.
func DevicePermissions(id fleet.DeviceID) Permissions {
	desired := kvStream(fleet.DesiredStateBucket)
	return Permissions{
		PubAllow: []string{
			kvSubjectPrefix(fleet.DeviceInfoBucket) + fleet.DeviceInfoKey(id),
			fleet.DeviceEventsSubject(id),
			"$JS.API.STREAM.INFO." + desired,
			"$JS.API.STREAM.INFO." + kvStream(fleet.DeviceInfoBucket),
			"$JS.API.CONSUMER.CREATE." + desired + ".*." + kvSubjectPrefix(fleet.DesiredStateBucket) + fleet.DesiredFilter(id),
			"$JS.API.CONSUMER.DELETE." + desired + ".*",
			"$JS.FC." + desired + ".>",
		},
		SubAllow: []string{
			fleet.InboxPrefix(id) + ".>",
			fleet.DeviceOpsSubjects(id),
		},
		RespMaxMsgs: RespMaxMsgs,
	}
}

// JWT returns p as user JWT permissions.
func (p Permissions) JWT() jwt.Permissions {
	var out jwt.Permissions
	out.Pub.Allow.Add(p.PubAllow...)
	out.Sub.Allow.Add(p.SubAllow...)
	if p.RespMaxMsgs > 0 {
		out.Resp = &jwt.ResponsePermission{MaxMsgs: p.RespMaxMsgs}
	}
	return out
}

// ServerAuthorizationBlock prints device id's permissions as a nats-server
// configuration block, for servers configured with users instead of JWTs.
// The user is id with PasswordPlaceholder(id) as its password, to be
// replaced, or, when nkeyPub is set, that nkey user.
func ServerAuthorizationBlock(id fleet.DeviceID, nkeyPub string) string {
	p := DevicePermissions(id)
	var b strings.Builder
	fmt.Fprintf(&b, "# harmony-fleet: permissions of device %s (ARCHITECTURE 8.1)\n", id)
	b.WriteString("authorization {\n  users = [\n    {\n")
	if nkeyPub != "" {
		fmt.Fprintf(&b, "      nkey: %q\n", nkeyPub)
	} else {
		fmt.Fprintf(&b, "      user: %q\n", string(id))
		fmt.Fprintf(&b, "      password: %q\n", PasswordPlaceholder(id))
	}
	b.WriteString("      permissions: {\n")
	writeList(&b, "publish", p.PubAllow)
	writeList(&b, "subscribe", p.SubAllow)
	if p.RespMaxMsgs > 0 {
		fmt.Fprintf(&b, "        allow_responses: { max: %d }\n", p.RespMaxMsgs)
	}
	b.WriteString("      }\n    }\n  ]\n}\n")
	return b.String()
}

// PasswordPlaceholder is the password ServerAuthorizationBlock writes for
// device id, to be replaced by a real one.
func PasswordPlaceholder(id fleet.DeviceID) string { return "REPLACE-WITH-PASSWORD-OF-" + string(id) }

func writeList(b *strings.Builder, kind string, subjects []string) {
	fmt.Fprintf(b, "        %s: { allow: [", kind)
	for i, s := range subjects {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%q", s)
	}
	b.WriteString("] }\n")
}
