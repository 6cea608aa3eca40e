package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCLI writes a pulumi stand-in that records its arguments and stdin, and
// answers like the CLI: `config get` of an unset key fails with "not found".
func fakeCLI(t *testing.T) (bin, dir string) {
	dir = t.TempDir()
	bin = filepath.Join(dir, "pulumi")
	script := `#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$@" > "$dir/args"
cat > "$dir/stdin"
case "$1 $2 $3" in
"config get unset") echo "error: configuration key 'slackbot:unset' not found for stack 'dev'" >&2; exit 255 ;;
"config get broken") echo "error: passphrase must be set" >&2; exit 255 ;;
"config get "*) echo "value-of-$3" ;;
"stack output --json") echo '{"apiUrl":"https://x"}' ;;
esac
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, dir
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCLISecretOnStdin: the signing secret reaches the CLI on stdin, never in
// its arguments, which any user of the machine can list.
func TestCLISecretOnStdin(t *testing.T) {
	bin, dir := fakeCLI(t)
	p := cliPulumi{Bin: bin, Stack: "dev"}
	if err := p.ConfigSet(t.Context(), keySigningSecret, "s3cret-value", true); err != nil {
		t.Fatal(err)
	}
	if args := read(t, filepath.Join(dir, "args")); strings.Contains(args, "s3cret-value") ||
		args != "config\nset\n--secret\nsigningSecret\n--stack\ndev\n" {
		t.Errorf("args %q: want the key and --stack, no value", args)
	}
	if got := read(t, filepath.Join(dir, "stdin")); got != "s3cret-value" {
		t.Errorf("stdin %q, want the secret", got)
	}
}

// TestCLIPlainSet: a plain value goes after "--" (an id could start with a
// dash), and --stack before it, where it is still a flag.
func TestCLIPlainSet(t *testing.T) {
	bin, dir := fakeCLI(t)
	p := cliPulumi{Bin: bin, Stack: "dev"}
	if err := p.ConfigSet(t.Context(), keyAppID, "A0123", false); err != nil {
		t.Fatal(err)
	}
	if args := read(t, filepath.Join(dir, "args")); args != "config\nset\nslackAppId\n--stack\ndev\n--\nA0123\n" {
		t.Errorf("args %q", args)
	}
}

func TestCLIConfigGet(t *testing.T) {
	bin, _ := fakeCLI(t)
	p := cliPulumi{Bin: bin}
	if v, err := p.ConfigGet(t.Context(), "appName"); err != nil || v != "value-of-appName" {
		t.Errorf("set key: %q, %v", v, err)
	}
	if v, err := p.ConfigGet(t.Context(), "unset"); err != nil || v != "" {
		t.Errorf("unset key: %q, %v; want \"\" and no error", v, err)
	}
	if _, err := p.ConfigGet(t.Context(), "broken"); err == nil || !strings.Contains(err.Error(), "passphrase must be set") {
		t.Errorf("failure: %v, want the CLI's message", err)
	}
	out, err := p.StackOutputs(t.Context())
	if err != nil || !strings.Contains(string(out), "apiUrl") {
		t.Errorf("outputs %q, %v", out, err)
	}
}

func TestCLIMissing(t *testing.T) {
	p := cliPulumi{Bin: filepath.Join(t.TempDir(), "no-such-pulumi")}
	if _, err := p.StackOutputs(t.Context()); err == nil {
		t.Error("no error without a CLI")
	}
	p = cliPulumi{Bin: "no-such-pulumi-anywhere"}
	if _, err := p.StackOutputs(t.Context()); err == nil || !strings.Contains(err.Error(), "install the Pulumi CLI") {
		t.Errorf("error %v, want how to install it", err)
	}
	// "executable file not found" is no unset key: the app id must not
	// read as unset, or a run would create a second app.
	if v, err := p.ConfigGet(t.Context(), keyAppID); err == nil {
		t.Errorf("config get without a CLI: %q and no error", v)
	}
}
