package testenv

import (
	"fmt"
	"os"
	"testing"
)

// binDir holds what is built once and shared by every test in this binary
// (the echo bootstrap), outliving any single test's TempDir.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "testenv-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
