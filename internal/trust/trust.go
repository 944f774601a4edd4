package trust

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
)

// StoreFile is the file, in the state directory, holding the highest
// generation accepted per deployment.
const StoreFile = "generations.json"

// storeVersion is the version of StoreFile's format.
const storeVersion = 1

var (
	// ErrUnsigned: a bare spec while trust keys are set.
	ErrUnsigned = errors.New("trust: unsigned value refused")
	// ErrOlder: a signed value older than the newest one accepted for its
	// deployment (a replay).
	ErrOlder = errors.New("trust: older generation")
	// ErrNotSaved is wrapped by the error Check returns along with an
	// accepted spec when the new generation could not be written to the
	// state directory: the value is accepted (and remembered in memory,
	// the write retried on the next Check), the caller logs the error.
	ErrNotSaved = errors.New("trust: generation not saved")
)

// refusal is an error whose text is exactly msg and that matches kind.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.kind }

// Verifier checks desired values against the trust keys. It is safe for
// concurrent use.
type Verifier struct {
	keys []string
	path string // StoreFile in the state directory; "" without keys

	mu sync.Mutex
	// highest is the highest generation accepted per deployment, never
	// forgotten.
	highest map[fleet.DeploymentName]uint64
	// dirty: highest holds a generation the file lacks (a write failed).
	dirty bool
}

// storeJSON is the content of StoreFile.
type storeJSON struct {
	Version     int                             `json:"version"`
	Generations map[fleet.DeploymentName]uint64 `json:"generations"`
}

// New returns a Verifier trusting keys (account public keys, "A..."),
// remembering generations under stateDir. With no keys it takes bare
// specs and needs no state directory. A store that exists but cannot be
// read or decoded is an error: starting with no memory would let old
// values be replayed.
func New(keys []string, stateDir string) (*Verifier, error) {
	v := &Verifier{highest: map[fleet.DeploymentName]uint64{}}
	for i, k := range keys {
		if err := signed.CheckPublicKey(k); err != nil {
			return nil, fmt.Errorf("trust key %d: %w", i, err)
		}
		v.keys = append(v.keys, k)
	}
	if len(v.keys) == 0 {
		return v, nil
	}
	if stateDir == "" {
		return nil, errors.New("trust: a state directory is needed to remember generations")
	}
	v.path = filepath.Join(stateDir, StoreFile)
	data, err := os.ReadFile(v.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return v, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", v.path, err)
	}
	var st storeJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", v.path, err)
	}
	if st.Version != storeVersion {
		return nil, fmt.Errorf("read %s: version %d, want %d", v.path, st.Version, storeVersion)
	}
	for name, g := range st.Generations {
		v.highest[name] = g
	}
	return v, nil
}

// Check returns the spec value holds for deployment on device, or why it
// is refused:
//
//   - with trust keys, a bare spec is refused ("unsigned value refused:
//     trust.keys is set", ErrUnsigned; a value that is not JSON gets
//     signed.Decode's reason); an envelope is accepted only if it
//     verifies under a trusted key and names device and deployment (the
//     errors of signed.Verify), and its generation is not lower than the
//     highest accepted for deployment ("generation 17 is older than 23",
//     ErrOlder; the same generation again is accepted);
//   - without trust keys, a bare spec is decoded (fleet.DecodeSpec). An
//     envelope is accepted too, for a fleet that signs before its devices
//     trust a key: decoded as strictly and refused when it names another
//     device or deployment (signed.Unverified), but its signature proves
//     nothing, so its generation is neither checked nor remembered (an
//     unverified value must not raise the bar for signed ones later).
//
// When an accepted generation cannot be saved, Check returns the spec and
// an error wrapping ErrNotSaved: the value is accepted, the caller logs
// the error. Refusing instead would keep a device with a full disk from
// taking any update; the generation stays remembered in memory.
func (v *Verifier) Check(device fleet.DeviceID, deployment fleet.DeploymentName, value []byte) (fleet.DeploymentSpec, error) {
	isEnvelope := signed.IsEnvelope(value)
	if len(v.keys) == 0 {
		if !isEnvelope {
			return fleet.DecodeSpec(value)
		}
		st, err := signed.Unverified(value, device, deployment)
		if err != nil {
			return fleet.DeploymentSpec{}, err
		}
		return st.Spec, nil
	}
	if !isEnvelope && json.Valid(value) {
		return fleet.DeploymentSpec{}, &refusal{ErrUnsigned, "unsigned value refused: trust.keys is set"}
	}
	st, err := signed.Verify(value, v.keys, device, deployment)
	if err != nil {
		return fleet.DeploymentSpec{}, err
	}
	if err := v.accept(deployment, st.Generation); err != nil {
		if errors.Is(err, ErrNotSaved) {
			return st.Spec, err
		}
		return fleet.DeploymentSpec{}, err
	}
	return st.Spec, nil
}

// accept records generation g of deployment, refusing one below the
// highest. The file is written under the lock: it is small, and writing
// in order keeps it from going back.
func (v *Verifier) accept(deployment fleet.DeploymentName, g uint64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	high, ok := v.highest[deployment]
	switch {
	case ok && g < high:
		return &refusal{ErrOlder, fmt.Sprintf("generation %d is older than %d", g, high)}
	case ok && g == high && !v.dirty:
		return nil
	}
	v.highest[deployment] = g
	if err := v.saveLocked(); err != nil {
		v.dirty = true
		return fmt.Errorf("%w: accepted generation %d of %s, not remembered across restarts: %w", ErrNotSaved, g, deployment, err)
	}
	v.dirty = false
	return nil
}

// saveLocked writes highest to the store file atomically.
func (v *Verifier) saveLocked() error {
	data, err := json.Marshal(storeJSON{Version: storeVersion, Generations: v.highest})
	if err != nil {
		return fmt.Errorf("encode %s: %w", v.path, err)
	}
	if err := atomicfile.Write(v.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", v.path, err)
	}
	return nil
}

// Generation returns the highest generation accepted for deployment, and
// whether there is one.
func (v *Verifier) Generation(deployment fleet.DeploymentName) (uint64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	g, ok := v.highest[deployment]
	return g, ok
}

// Signed reports whether v has trust keys: whether it takes only signed
// values.
func (v *Verifier) Signed() bool { return len(v.keys) > 0 }
