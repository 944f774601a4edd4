// Package testsupport holds the helpers every test package shares: one
// poll-until-deadline and one synchronised buffer, so each exists once.
//
// It is imported by tests only; it imports the standard library alone and
// starts no goroutine.
package testsupport
