package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBuildRIEIsCachedAndExecutable(t *testing.T) {
	start := time.Now()
	first, err := BuildRIE()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BuildRIE took %v", time.Since(start))
	fi, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable (mode %v)", first, fi.Mode())
	}
	// What another package's test binary does: no sync.Once to lean on,
	// only the cache directory.
	second, err := buildRIE()
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("rebuild path = %q, want the cached %q", second, first)
	}
	if fi2, err := os.Stat(second); err != nil {
		t.Fatal(err)
	} else if !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("cached binary was rebuilt (mtime %v, then %v)", fi.ModTime(), fi2.ModTime())
	}
	// Interrupted builds must not leave half-written binaries behind.
	tmps, err := filepath.Glob(filepath.Join(filepath.Dir(first), "*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmps) != 0 {
		t.Errorf("temporary files left in the cache: %q", tmps)
	}
}
