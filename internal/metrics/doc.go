// Package metrics is a tiny Prometheus text-format registry (counters,
// labelled counters, gauges read at scrape time, histograms) and the
// optional local listener that serves it on /metrics. It is written by
// hand so the agent binary does not link prometheus/client_golang: the
// text format (# HELP, # TYPE, name{label="v"} value, histograms as
// _bucket{le=...}, _sum, _count) is all it needs.
//
// It imports the standard library only.
package metrics
