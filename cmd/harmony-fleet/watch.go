package main

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// changePrinter prints what render writes only when it differs from what
// it printed last: status --watch renders again after every change it
// reads, and a change it does not show (another deployment, a snapshot
// that repeats what the events said) must not repeat the same table.
type changePrinter struct {
	w io.Writer
	// stamp prints a "# <time>" line before each table, so that a
	// watching user sees when it changed.
	stamp bool
	// now is the clock of the stamps.
	now     func() time.Time
	last    []byte
	printed bool
}

// print renders and prints when the rendering is new.
func (p *changePrinter) print(render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	if p.printed && bytes.Equal(b.Bytes(), p.last) {
		return nil
	}
	p.last, p.printed = b.Bytes(), true
	if p.stamp {
		if _, err := fmt.Fprintf(p.w, "\n# %s\n", p.now().UTC().Format(timeFormat)); err != nil {
			return err
		}
	}
	_, err := p.w.Write(b.Bytes())
	return err
}
