package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// newTable returns a tabwriter for columns separated by \t; the caller
// flushes it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes cells as one table row.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	fmt.Fprint(w, "\n")
}

// fixedRow writes cells as one table row whose columns have the given
// widths, two spaces apart, and returns the write's error. A cell wider
// than its column is written whole; the last cell, and any past widths,
// is not padded.
func fixedRow(w io.Writer, widths []int, cells ...any) error {
	var b strings.Builder
	for i, c := range cells {
		s := fmt.Sprint(c)
		b.WriteString(s)
		if i == len(cells)-1 {
			break
		}
		pad := 2
		if i < len(widths) {
			pad += max(widths[i]-utf8.RuneCountInString(s), 0)
		}
		b.WriteString(strings.Repeat(" ", pad))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// plural writes n and noun, in the plural unless n is 1: "1 device",
// "2 devices". noun is a regular English noun.
func plural(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, nounFor(n, noun))
}

// nounFor returns noun in the plural unless n is 1.
func nounFor(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// writeJSON writes v as one line of JSON; <, > and & are written as
// they are ("fleet.events.>"), not escaped for HTML.
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// oneLine makes s fit a table cell: newlines and tabs become spaces; ""
// becomes "-".
func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}

// formatAge writes d compactly: seconds under 2 minutes, then minutes
// under 2 hours, hours under 2 days, then days.
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s" // the device's clock is ahead of ours
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// timeFormat is how tables show times: UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"
