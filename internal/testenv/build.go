package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

const (
	rieModule  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	riePackage = rieModule + "/cmd/aws-lambda-rie"
)

var (
	rieOnce sync.Once
	rieBin  string
	rieErr  error
)

// RIEPath returns the path of an aws-lambda-rie binary built from the version
// go.mod pins, building it on first use.
func RIEPath(t testing.TB) string {
	t.Helper()
	SkipShort(t, "the Lambda Runtime Interface Emulator")
	path, err := BuildRIE()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// BuildRIE is RIEPath for callers without a testing.TB, such as TestMain.
// The binary is built once per test binary and cached across test binaries
// (one per package under `go test ./...`) in the user cache directory, keyed
// by the emulator's module version.
func BuildRIE() (string, error) {
	rieOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			// CI runners sometimes have no HOME; the temporary directory
			// still shares the binary between the packages of one run.
			cache = os.TempDir()
		}
		rieBin, rieErr = buildRIE(filepath.Join(cache, "slackbot-testenv"))
	})
	return rieBin, rieErr
}

// buildRIE builds the emulator into cacheDir unless a build of the same
// version is already there.
func buildRIE(cacheDir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: %w", err)
	}
	out, err := goCommand(root, "list", "-m", "-json", rieModule)
	if err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: %w", err)
	}
	var mod struct {
		Version string
		Replace *struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(out), &mod); err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: parse go list output: %w", err)
	}

	key, reuse := mod.Version, true
	if r := mod.Replace; r != nil {
		// A replacement by a local directory has no version to key on and
		// may change under us, so it is rebuilt every time (cheaply, from
		// the go build cache).
		key, reuse = "replaced-"+strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(r.Path+"@"+r.Version), r.Version != ""
	}
	dir := filepath.Join(cacheDir, "aws-lambda-rie", key, runtime.GOOS+"_"+runtime.GOARCH)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if reuse {
		if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
			return bin, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: %w", err)
	}

	// Test binaries of several packages may get here at once: each builds to
	// its own temporary name and renames it into place, which is atomic, so
	// nobody ever executes a half-written file.
	tmp, err := os.CreateTemp(dir, "aws-lambda-rie-*.tmp")
	if err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if _, err := goCommand(root, "build", "-trimpath", "-o", tmp.Name(), riePackage); err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: %w", err)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", fmt.Errorf("build aws-lambda-rie: %w", err)
	}
	return bin, nil
}

// BuildBootstrap builds the Go package pkg (an import path, or a path
// relative to the module root such as "./functions/events") into a Lambda
// "bootstrap" in a fresh temporary directory, and returns the binary's path.
func BuildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	SkipShort(t, "a bootstrap built for the Lambda emulator")
	bin, err := BuildFunction(pkg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildFunction builds pkg into outDir/bootstrap the way the deployed
// functions are built (lambda.norpc, static, trimmed paths), so the emulator
// runs the same kind of binary Lambda runs.
func BuildFunction(pkg, outDir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	bin, err := filepath.Abs(filepath.Join(outDir, "bootstrap"))
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	if _, err := goCommandEnv(root, []string{"CGO_ENABLED=0"},
		"build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, pkg); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return bin, nil
}
