// Package lambdabuild compiles Go Lambda handlers into the "bootstrap" binaries the
// provided.al2023 runtime starts, and packs each into a reproducible zip.
//
// The same source and toolchain give byte-identical zips, so the zip's hash only
// changes when the code does and `pulumi preview` shows no code change otherwise.
// The Pulumi program ships these zips; tests that run the functions under
// aws-lambda-rie build the very same binaries for the host architecture.
package lambdabuild

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// BootstrapName is the executable a provided.al2023 Lambda runtime starts, and the
// single entry of every zip this package writes.
const BootstrapName = "bootstrap"

// ZipModTime is the fixed modification time of the zip entry. A build time would
// make every zip differ; 1980-01-01 is the earliest time the zip format can hold.
var ZipModTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Flags are the go build flags of every bootstrap: no paths, VCS stamps or build
// IDs that differ between machines, no symbol tables (smaller zips), and the
// lambda.norpc tag that drops aws-lambda-go's legacy net/rpc mode, which the
// provided.al2023 runtime never uses.
var Flags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-tags=lambda.norpc"}

// Options says what to build and where.
type Options struct {
	// ModuleRoot is the directory holding go.mod; the build runs there.
	ModuleRoot string
	// GOOS defaults to linux.
	GOOS string
	// GOARCH is arm64 or amd64; it defaults to arm64.
	GOARCH string
	// OutDir receives <name>/bootstrap and <name>.zip, where name is the package's
	// last path element. It defaults to <ModuleRoot>/.build/lambda/<GOOS>_<GOARCH>.
	OutDir string
	// Go is the go command; it defaults to the one on PATH.
	Go string
}

// Artifact is one built function.
type Artifact struct {
	// Name is the package's last path element ("events").
	Name string
	// Bootstrap is the path of the raw executable, for running it locally.
	Bootstrap string
	// Path is the path of the written zip.
	Path string
	// Zip holds the zip's bytes.
	Zip []byte
	// SHA256 is the base64 SHA-256 of Zip, the form Lambda's sourceCodeHash takes.
	SHA256 string
}

// BuildAll compiles several main packages with one go command, which compiles the
// dependencies they share once and uses every core, then writes a zip per package.
// Packages are relative to opts.ModuleRoot ("./functions/events"); the
// artifacts come back in their order.
func BuildAll(ctx context.Context, opts Options, packages ...string) ([]*Artifact, error) {
	if len(packages) == 0 {
		return nil, errors.New("lambdabuild: no package to build")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(packages))
	seen := map[string]bool{}
	for i, pkg := range packages {
		names[i] = path.Base(filepath.ToSlash(pkg))
		if names[i] == "." || names[i] == "/" || seen[names[i]] {
			return nil, fmt.Errorf("lambdabuild: package %q: need distinct, named packages", pkg)
		}
		seen[names[i]] = true
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("lambdabuild: create out dir: %w", err)
	}
	// go build writes into a private directory first, so concurrent builds into the
	// same OutDir (two test binaries, say) never see a half-written binary.
	tmp, err := os.MkdirTemp(opts.OutDir, ".build-")
	if err != nil {
		return nil, fmt.Errorf("lambdabuild: %w", err)
	}
	defer os.RemoveAll(tmp)

	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", tmp+string(filepath.Separator))
	args = append(args, packages...)
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir = opts.ModuleRoot
	cmd.Env = buildEnv(os.Environ(), opts.GOOS, opts.GOARCH)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("lambdabuild: go build %s (GOOS=%s GOARCH=%s): %w\n%s",
			strings.Join(packages, " "), opts.GOOS, opts.GOARCH, err, out.Bytes())
	}

	arts := make([]*Artifact, len(packages))
	for i, name := range names {
		built := filepath.Join(tmp, name)
		if opts.GOOS == "windows" {
			built += ".exe"
		}
		art, err := pack(built, opts.OutDir, name)
		if err != nil {
			return nil, fmt.Errorf("lambdabuild: %s: %w", packages[i], err)
		}
		arts[i] = art
	}
	return arts, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.ModuleRoot == "" {
		return o, errors.New("lambdabuild: ModuleRoot is required")
	}
	root, err := filepath.Abs(o.ModuleRoot)
	if err != nil {
		return o, fmt.Errorf("lambdabuild: module root: %w", err)
	}
	o.ModuleRoot = root
	if o.GOOS == "" {
		o.GOOS = "linux"
	}
	if o.GOARCH == "" {
		o.GOARCH = "arm64"
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(root, ".build", "lambda", o.GOOS+"_"+o.GOARCH)
	}
	if o.Go == "" {
		o.Go = "go"
	}
	return o, nil
}

// buildEnv pins everything in the environment that changes the output bytes, so a
// developer's machine and CI produce the same zip.
func buildEnv(env []string, goos, goarch string) []string {
	pinned := map[string]string{
		"GOOS":        goos,
		"GOARCH":      goarch,
		"CGO_ENABLED": "0",
		// The baseline instruction sets, whatever a developer exports.
		"GOAMD64": "v1",
		"GOARM64": "v8.0",
		"GOARM":   "7",
		// Replaces (not joins) a developer's GOFLAGS, and never lets a preview
		// rewrite go.mod.
		"GOFLAGS": "-mod=readonly",
	}
	out := make([]string, 0, len(env)+len(pinned))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := pinned[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range pinned {
		out = append(out, k+"="+v)
	}
	return out
}

// pack moves the built executable to <outDir>/<name>/bootstrap and writes
// <outDir>/<name>.zip next to it.
func pack(built, outDir, name string) (*Artifact, error) {
	bin, err := os.ReadFile(built)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	zipBytes, err := Zip(bin)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(outDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(built, 0o755); err != nil {
		return nil, fmt.Errorf("chmod binary: %w", err)
	}
	bootstrap := filepath.Join(dir, BootstrapName)
	if err := os.Rename(built, bootstrap); err != nil {
		return nil, fmt.Errorf("place binary: %w", err)
	}
	zipPath := filepath.Join(outDir, name+".zip")
	if err := writeFileAtomic(zipPath, zipBytes); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(zipBytes)
	return &Artifact{
		Name:      name,
		Bootstrap: bootstrap,
		Path:      zipPath,
		Zip:       zipBytes,
		SHA256:    base64.StdEncoding.EncodeToString(sum[:]),
	}, nil
}

// Zip returns a zip holding one entry, bootstrap, with the given contents, mode
// 0755 and ZipModTime. Lambda keeps the entry's Unix mode, so the runtime can
// execute it; zipping a directory with Pulumi's FileArchive would lose it
// (pulumi/pulumi#3593).
func Zip(bootstrap []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{
		Name:     BootstrapName,
		Method:   zip.Deflate,
		Modified: ZipModTime,
	}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	if _, err := io.Copy(w, bytes.NewReader(bootstrap)); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return buf.Bytes(), nil
}

func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".zip-")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// GOARCH maps a Lambda architecture ("arm64", "x86_64") to its GOARCH.
func GOARCH(lambdaArch string) (string, error) {
	switch lambdaArch {
	case "arm64":
		return "arm64", nil
	case "x86_64":
		return "amd64", nil
	}
	return "", fmt.Errorf("lambda architecture %q: want arm64 or x86_64", lambdaArch)
}

// FindModuleRoot walks up from dir to the directory holding go.mod.
func FindModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find module root: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find module root: no go.mod in %s or its parents", dir)
		}
		d = parent
	}
}
