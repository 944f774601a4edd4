package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds what the tests build (the agent binary); TestMain removes
// it after the run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "harmony-agent-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}
