// Package rollout owns the fleet controller's decisions (ARCHITECTURE 9):
// given the fleet deployments, the device registry, what the devices
// report, the desired-state keys and the time, Plan returns the writes to
// make (puts and deletes, each a compare-and-set on the key's revision) and
// each rollout's status. The controller (internal/controller) reads NATS,
// calls Plan, and writes; it decides nothing itself.
//
// Plan is a pure function of its Input: no I/O, no clock (Input.Now), no
// logging, no goroutines, no state kept between calls. Everything a
// rollout must remember lives in the keys themselves (which generation and
// spec each device holds, and when it was written) and in the
// fleet.RolloutStatus it returns, which the caller persists in the
// rollouts bucket and passes back. A controller that restarts, or a
// standby that takes over, with the persisted statuses decides exactly as
// the one before it. The caller should write the statuses before the
// writes: a lost write is planned again from the keys, a lost halt is not.
//
// # Targeting
//
// A device is targeted when its device-registry labels (never the labels
// it reports) hold every label of the selector, with the same value. The
// key of a device that is not targeted (relabelled out, removed from the
// registry) is deleted, in every state, paused included: a pause stops a
// version from spreading, not a device from leaving. Plan reads only the
// keys of fleet deployments' names, and builds every write from a fleet
// deployment, so the keys of other deployments (apply --device) cannot be
// touched.
//
// # Rollout
//
// A device is updated when its key holds the current spec (by hash) at
// the current generation or a newer one; ready when it has reported
// running with the current spec_hash for min_ready_seconds, or succeeded;
// failed when it reports failed with the current spec_hash, or is not
// ready health_timeout_seconds after its key was written; in flight
// otherwise (offline or not: a device that went offline mid-wave keeps its
// place in the wave until it is ready or timed out).
//
// Waves: when no device is in flight, the next wave writes the current
// version to the first batch (Batch.Resolve of the targeted count) of the
// online targeted devices not yet updated, in device-ID order. So at most
// batch devices are ever in flight while a rollout progresses. Offline
// devices are counted unavailable, skipped, and taken by a later wave when
// they return. A first version (no previous) rolls out in waves too: the
// first spec is as likely to be bad as any other.
//
// A device whose key already holds the current spec under an older
// generation and runs it ready (after an undo, most devices) is restamped
// with the new generation at once, outside the waves: nothing changes on
// it.
//
// Every write of the current version carries the deployment's generation,
// or one more than the key's when the key holds a newer one (a rollback's),
// so the agent never refuses it as a replay (3.8).
//
// # States
//
//		progressing ─(failed > max_failed)──────────▶ halted
//		     │  ▲                                      │ auto_rollback
//		 pause  resume                                 ▼
//		     ▼  │                                  rolling_back ─(every key rewritten)─▶ halted
//		   paused ─(failed > max_failed)──▶ halted
//		progressing ─(no device left to update or in flight)──▶ complete
//
//	  - progressing: waves are written.
//	  - paused: the fleet deployment is paused; no put is made (deletes
//	    are). A paused rollout halts all the same when failures exceed
//	    max_failed. Pausing a complete or halted rollout leaves its state,
//	    and stops its puts (joins, rollback) until it is resumed.
//	  - halted: failed exceeds max_failed (MaxFailed.Resolve of the targeted
//	    count). Halted is final for the generation: nothing more of it is
//	    written, not to late joiners either, until the operator deploys a
//	    new spec or undoes (both a new generation). The message keeps the
//	    count that halted it.
//	  - rolling_back: halted with auto_rollback, while some targeted device
//	    still holds the current version: the previous spec is written back
//	    to each, under one generation newer than every key of the deployment
//	    and than the deployment's (max(Unix ms of now, that + 1)). A first
//	    version has no previous spec: its keys are deleted instead. Once no
//	    device holds the version, the state is halted ("...; rolled back").
//	  - complete: every online targeted device is updated, none in flight,
//	    at least one updated. Complete is final for the generation: a device
//	    targeted later, or back online, gets the spec at once (ReasonJoin),
//	    and failures no longer halt (they are counted).
//
// A new generation (or a status for another one) starts over at
// progressing, wave 0.
//
// # Undo
//
// A fleet deployment keeps the version its spec replaced in Previous.
// Undo swaps them under a new generation, which rolls out like any other:
// devices already on that spec (rolled back, or never updated) are
// restamped at once, the others go in waves.
//
// rollout imports the standard library and fleet only.
package rollout
