package controller

import "github.com/harmony-edge/harmony-agent/fleet"

// maxInternedHashes bounds the spec hashes the view shares: a fleet has a
// few versions per deployment; devices may report any hash, and past the
// bound a hash is kept as it came.
const maxInternedHashes = 4096

// canonID returns the registry's own copy of id when the device is
// enrolled, else id. The view keys its maps with it, so that the planner's
// lookups by registry ID (10,000 devices x every deployment, every plan)
// find keys that are the same string, compared by pointer, rather than
// equal bytes elsewhere in the heap, each a cache miss.
func (v *view) canonID(id fleet.DeviceID) fleet.DeviceID {
	if c, ok := v.ids[id]; ok {
		return c
	}
	return id
}

// canonHash returns the view's one copy of spec hash h (for the same
// reason: the planner compares every key's and observation's hash with
// the deployment's).
func (v *view) canonHash(h string) string {
	if h == "" {
		return h
	}
	if c, ok := v.hashes[h]; ok {
		return c
	}
	if v.hashes == nil {
		v.hashes = map[string]string{}
	}
	if len(v.hashes) < maxInternedHashes {
		v.hashes[h] = h
	}
	return h
}
