// Package natstest starts a real in-process nats-server with JetStream for
// tests: on a random port, storing under t.TempDir(), shut down by
// t.Cleanup. Its code is compiled only under the embednats build tag, like
// the server itself; tests that use it carry the same tag.
//
// natstest is for _test.go files only; no package of the binary imports it.
package natstest
