package process

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// ErrCannotSwitchUser is returned by Apply for a workload that must run as
// another user than the agent's while the agent is not root.
var ErrCannotSwitchUser = errors.New("process: cannot run as another user: the agent is not root")

// identity is who a workload runs as.
type identity struct {
	name   string // as the spec or the config names it
	uid    uint32
	gid    uint32
	groups []uint32 // supplementary groups; none for "uid:gid"
}

// lookupUser resolves a user name (through os/user: /etc/passwd and
// /etc/group) or "uid:gid" (used as is, no supplementary groups).
func lookupUser(who string) (identity, error) {
	id := identity{name: who}
	if uid, gid, ok := strings.Cut(who, ":"); ok {
		u, err1 := strconv.ParseUint(uid, 10, 32)
		g, err2 := strconv.ParseUint(gid, 10, 32)
		if err1 != nil || err2 != nil {
			return identity{}, fmt.Errorf("user %q: not uid:gid in decimal", who)
		}
		id.uid, id.gid = uint32(u), uint32(g)
		return id, nil
	}
	u, err := user.Lookup(who)
	if err != nil {
		return identity{}, fmt.Errorf("user %q: %w", who, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return identity{}, fmt.Errorf("user %q: uid %q, gid %q are not numeric", who, u.Uid, u.Gid)
	}
	id.uid, id.gid = uint32(uid), uint32(gid)
	gids, err := u.GroupIds()
	if err != nil {
		return identity{}, fmt.Errorf("user %q: groups: %w", who, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return identity{}, fmt.Errorf("user %q: group id %q is not numeric", who, g)
		}
		id.groups = append(id.groups, uint32(n))
	}
	slices.Sort(id.groups)
	id.groups = slices.Compact(id.groups)
	return id, nil
}

// credential returns the credential a workload that must run as who gets,
// nil for "run as the agent". who "" is the agent's own user. An agent
// running as root switches to who (uid, gid and who's supplementary
// groups; root's own are dropped); an unprivileged agent can run
// workloads only as itself.
func credential(who string) (*syscall.Credential, *identity, error) {
	if who == "" {
		return nil, nil, nil
	}
	id, err := lookupUser(who)
	if err != nil {
		return nil, nil, err
	}
	euid := os.Geteuid()
	if euid == 0 {
		return &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: id.groups}, &id, nil
	}
	if int(id.uid) == euid && inGroup(id.gid) {
		return nil, nil, nil // itself: nothing to change
	}
	return nil, nil, fmt.Errorf("user %q (uid %d, gid %d): %w (it runs as uid %d; run it as root, or set the user to the agent's own)",
		who, id.uid, id.gid, ErrCannotSwitchUser, euid)
}

// inGroup reports whether the agent has gid as its group or one of its
// supplementary groups.
func inGroup(gid uint32) bool {
	if int(gid) == os.Getegid() {
		return true
	}
	groups, err := os.Getgroups()
	return err == nil && slices.Contains(groups, int(gid))
}

// searchable reports whether id may search (enter) dir and every
// directory above it, by their mode bits (ACLs are not read: it explains
// a refusal the kernel made, it does not decide).
func searchable(dir string, id identity) bool {
	if id.uid == 0 {
		return true
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		mode := fi.Mode().Perm()
		var bit os.FileMode
		switch {
		case st.Uid == id.uid:
			bit = 0o100
		case st.Gid == id.gid || slices.Contains(id.groups, st.Gid):
			bit = 0o010
		default:
			bit = 0o001
		}
		if mode&bit == 0 {
			return false
		}
		if p == "/" {
			return true
		}
	}
}
