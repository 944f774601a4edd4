package fleet

import (
	"encoding/json"
	"fmt"
)

// TransitionKind tags a LifecycleTransition.
type TransitionKind string

// The two transition kinds.
const (
	KindApplied TransitionKind = "applied"
	KindRemoved TransitionKind = "removed"
)

// LifecycleTransition is the tagged union of 3.3:
//
//	{"kind":"applied","from":"pending"|null,"to":"running","last_error":null|"..."}
//	{"kind":"removed","from":"running"}
//
// From is "" (JSON null) for the first phase a deployment gets in an epoch;
// LastError is "" (JSON null) when there is none. To and LastError are
// empty for removed.
type LifecycleTransition struct {
	Kind      TransitionKind
	From      Phase
	To        Phase
	LastError string
}

// Applied returns an applied transition.
func Applied(from, to Phase, lastError string) LifecycleTransition {
	return LifecycleTransition{Kind: KindApplied, From: from, To: to, LastError: lastError}
}

// Removed returns a removed transition.
func Removed(from Phase) LifecycleTransition {
	return LifecycleTransition{Kind: KindRemoved, From: from}
}

// Validate reports why t is not a well-formed transition, or nil.
func (t LifecycleTransition) Validate() error {
	switch t.Kind {
	case KindApplied:
		if t.From != "" && !t.From.Valid() {
			return fmt.Errorf("transition.from: unknown phase %q", t.From)
		}
		if !t.To.Valid() {
			return fmt.Errorf("transition.to: unknown phase %q", t.To)
		}
	case KindRemoved:
		if !t.From.Valid() {
			return fmt.Errorf("transition.from: removed needs a phase, got %q", t.From)
		}
		if t.To != "" || t.LastError != "" {
			return fmt.Errorf("transition: removed carries no to or last_error")
		}
	default:
		return fmt.Errorf("transition.kind: unknown kind %q (want applied or removed)", t.Kind)
	}
	return nil
}

type appliedJSON struct {
	Kind      TransitionKind `json:"kind"`
	From      *Phase         `json:"from"`
	To        Phase          `json:"to"`
	LastError *string        `json:"last_error"`
}

type removedJSON struct {
	Kind TransitionKind `json:"kind"`
	From Phase          `json:"from"`
}

// MarshalJSON writes the exact shape of 3.3.
func (t LifecycleTransition) MarshalJSON() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Kind == KindRemoved {
		return json.Marshal(removedJSON{Kind: t.Kind, From: t.From})
	}
	return json.Marshal(appliedJSON{Kind: t.Kind, From: optional(t.From), To: t.To, LastError: optional(t.LastError)})
}

// transitionJSON is the decoded wire form of every transition shape.
type transitionJSON struct {
	Kind      TransitionKind `json:"kind"`
	From      *Phase         `json:"from"`
	To        *Phase         `json:"to"`
	LastError *string        `json:"last_error"`
}

func (w transitionJSON) value() LifecycleTransition {
	return LifecycleTransition{Kind: w.Kind, From: deref(w.From), To: deref(w.To), LastError: deref(w.LastError)}
}

// UnmarshalJSON decodes and validates; unknown fields are ignored.
func (t *LifecycleTransition) UnmarshalJSON(b []byte) error {
	var w transitionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("transition: %w", err)
	}
	v := w.value()
	if err := v.Validate(); err != nil {
		return err
	}
	*t = v
	return nil
}

// optional maps the zero value to nil (JSON null).
func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
