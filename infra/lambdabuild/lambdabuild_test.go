package lambdabuild_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
)

// writeModule writes a module of its own with one main package, so these tests
// do not depend on the state of the real functions.
func writeModule(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"go.mod": "module example.com/fn\n\ngo 1.26\n",
		"cmd/hello/main.go": `package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println("hello from", os.Args[0]) }
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestZipHasOneExecutableBootstrap(t *testing.T) {
	content := []byte("#!/bin/sh\necho hi\n")
	z, err := lambdabuild.Zip(content)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("zip has %d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" {
		t.Errorf("entry name %q, want bootstrap", f.Name)
	}
	if f.Mode() != 0o755 {
		t.Errorf("entry mode %v, want -rwxr-xr-x", f.Mode())
	}
	if f.CreatorVersion>>8 != 3 {
		t.Errorf("creator OS %d, want 3 (Unix), or Lambda ignores the mode", f.CreatorVersion>>8)
	}
	if !f.Modified.Equal(lambdabuild.ZipModTime) {
		t.Errorf("entry time %v, want %v", f.Modified, lambdabuild.ZipModTime)
	}
	if f.Method != zip.Deflate {
		t.Errorf("method %d, want deflate", f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("entry content differs from input")
	}
	again, err := lambdabuild.Zip(content)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(z, again) {
		t.Error("two zips of the same bytes differ")
	}
}

// TestBuildIsReproducible builds the same source in two different directories
// (as a developer's checkout and CI's would be) and wants identical zips.
func TestBuildIsReproducible(t *testing.T) {
	ctx := context.Background()
	var zips [][]byte
	for i := 0; i < 2; i++ {
		root := t.TempDir()
		writeModule(t, root)
		art, err := buildOne(ctx, lambdabuild.Options{
			ModuleRoot: root, GOARCH: "arm64",
		}, "./cmd/hello")
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(root, ".build", "lambda", "linux_arm64", "hello.zip"); art.Path != want {
			t.Errorf("zip path %s, want %s", art.Path, want)
		}
		onDisk, err := os.ReadFile(art.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, art.Zip) {
			t.Error("zip on disk differs from Artifact.Zip")
		}
		sum := sha256.Sum256(art.Zip)
		if art.SHA256 != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("SHA256 %q is not the base64 SHA-256 of the zip", art.SHA256)
		}
		checkELF(t, art.Bootstrap, elf.EM_AARCH64)
		zips = append(zips, art.Zip)
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Fatalf("two builds of the same source differ (%d and %d bytes)", len(zips[0]), len(zips[1]))
	}
}

// checkELF wants a static, stripped Linux executable for machine.
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("%s mode %v, want 0755", path, info.Mode().Perm())
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s is not ELF: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s machine %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a dynamic loader: CGO was not off", path)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s keeps its symbol table: not stripped", path)
	}
}

func TestBuildAllNamesEachArtifact(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root)
	other := filepath.Join(root, "cmd", "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	arts, err := lambdabuild.BuildAll(context.Background(), lambdabuild.Options{
		ModuleRoot: root, GOARCH: "amd64", OutDir: out,
	}, "./cmd/hello", "./cmd/other")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"hello", "other"} {
		if arts[i].Name != name || arts[i].Path != filepath.Join(out, name+".zip") ||
			arts[i].Bootstrap != filepath.Join(out, name, "bootstrap") {
			t.Errorf("artifact %d = %+v, want %s in %s", i, arts[i].Name, name, out)
		}
		checkELF(t, arts[i].Bootstrap, elf.EM_X86_64)
	}
	if bytes.Equal(arts[0].Zip, arts[1].Zip) {
		t.Error("different packages gave the same zip")
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

// TestBootstrapRunsOnHost builds for the host, as the end-to-end tests do, and
// runs the binary.
func TestBootstrapRunsOnHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("bootstraps are Linux executables")
	}
	root := t.TempDir()
	writeModule(t, root)
	art, err := buildOne(context.Background(), lambdabuild.Options{
		ModuleRoot: root, GOARCH: runtime.GOARCH,
	}, "./cmd/hello")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(art.Bootstrap).CombinedOutput()
	if err != nil {
		t.Fatalf("run bootstrap: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "hello from") {
		t.Errorf("bootstrap printed %q", out)
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root)
	if err := os.WriteFile(filepath.Join(root, "cmd", "hello", "broken.go"), []byte("package main\n\nvar x int = \"s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := buildOne(context.Background(), lambdabuild.Options{ModuleRoot: root}, "./cmd/hello")
	if err == nil || !strings.Contains(err.Error(), "broken.go") {
		t.Fatalf("err = %v, want the compiler's message naming broken.go", err)
	}
}

func TestGOARCH(t *testing.T) {
	for in, want := range map[string]string{"arm64": "arm64", "x86_64": "amd64"} {
		got, err := lambdabuild.GOARCH(in)
		if err != nil || got != want {
			t.Errorf("GOARCH(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := lambdabuild.GOARCH("amd64"); err == nil {
		t.Error("GOARCH(amd64) should fail: Lambda calls it x86_64")
	}
}

func TestFindModuleRoot(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root)
	got, err := lambdabuild.FindModuleRoot(filepath.Join(root, "cmd", "hello"))
	if err != nil || got != root {
		t.Errorf("FindModuleRoot = %q, %v; want %q", got, err, root)
	}
}

// buildOne builds one package with BuildAll.
func buildOne(ctx context.Context, opts lambdabuild.Options, pkg string) (*lambdabuild.Artifact, error) {
	arts, err := lambdabuild.BuildAll(ctx, opts, pkg)
	if err != nil {
		return nil, err
	}
	return arts[0], nil
}
