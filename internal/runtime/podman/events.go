package podman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ErrEventsEnded is returned by Events when podman closed the stream.
var ErrEventsEnded = errors.New("podman: event stream ended")

// Event is one event from podman's event stream.
type Event struct {
	// Type is "container", "image", "pod", "volume", ...
	Type string
	// Action is what happened: for containers create, init, start, died,
	// stop, kill, pause, unpause, restart, remove, cleanup, ...
	Action string
	// ID is the container (or image, ...) id.
	ID string
	// Name is the container's name (the "name" attribute).
	Name string
	// Attributes hold the container's labels, its name, image and
	// containerExitCode.
	Attributes map[string]string
	Time       time.Time
}

// EventFilter selects events; empty fields select all.
type EventFilter struct {
	// Types are event types, like "container".
	Types []string
	// Labels are "key" or "key=value"; an event must match all of them.
	Labels []string
}

// Events streams events from now on, calling fn for each, until ctx is done
// (it then returns ctx.Err()) or the stream breaks (any other error;
// ErrEventsEnded when podman closed it). fn runs on the caller's goroutine
// and delays the next event while it runs.
//
// Podman sends the response headers only with the first event, so the call
// cannot tell when the subscription is in place.
func (c *Client) Events(ctx context.Context, filter EventFilter, fn func(Event)) error {
	q := url.Values{"stream": {"true"}}
	filters := map[string][]string{}
	if len(filter.Types) > 0 {
		filters["type"] = filter.Types
	}
	if len(filter.Labels) > 0 {
		filters["label"] = filter.Labels
	}
	if len(filters) > 0 {
		f, err := json.Marshal(filters)
		if err != nil {
			return err
		}
		q.Set("filters", string(f))
	}
	resp, err := c.request(ctx, http.MethodGet, "/events", q, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("events: %w", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var j struct {
			Type   string `json:"Type"`
			Action string `json:"Action"`
			Status string `json:"status"`
			ID     string `json:"id"`
			Actor  struct {
				ID         string            `json:"ID"`
				Attributes map[string]string `json:"Attributes"`
			} `json:"Actor"`
			Time     int64 `json:"time"`
			TimeNano int64 `json:"timeNano"`
		}
		err := dec.Decode(&j)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("events: %w", ErrEventsEnded)
		}
		if err != nil {
			return fmt.Errorf("events: read: %w", err)
		}
		ev := Event{
			Type:       j.Type,
			Action:     j.Action,
			ID:         j.Actor.ID,
			Attributes: j.Actor.Attributes,
		}
		if ev.Action == "" {
			ev.Action = j.Status
		}
		if ev.ID == "" {
			ev.ID = j.ID
		}
		ev.Name = ev.Attributes["name"]
		switch {
		case j.TimeNano != 0:
			ev.Time = time.Unix(0, j.TimeNano)
		case j.Time != 0:
			ev.Time = time.Unix(j.Time, 0)
		}
		fn(ev)
	}
}
