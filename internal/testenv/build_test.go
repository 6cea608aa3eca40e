package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildRIE(t *testing.T) {
	t.Parallel()
	path := RIEPath(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable (mode %v)", path, fi.Mode())
	}
}

// What a second package's test binary does: no sync.Once to lean on, only
// the cache directory. A private cache keeps other test binaries building
// concurrently from touching the files this test inspects.
func TestBuildRIEReusesCache(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	first, err := buildRIE(cache)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, cache) {
		t.Errorf("built %s outside the cache %s", first, cache)
	}
	fi, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}

	second, err := buildRIE(cache)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second build at %q, want the cached %q", second, first)
	}
	if fi2, err := os.Stat(second); err != nil {
		t.Fatal(err)
	} else if !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("cached binary was rebuilt (mtime %v, then %v)", fi.ModTime(), fi2.ModTime())
	}
	tmps, err := filepath.Glob(filepath.Join(filepath.Dir(first), "*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmps) != 0 {
		t.Errorf("temporary files left in the cache: %q", tmps)
	}
}
