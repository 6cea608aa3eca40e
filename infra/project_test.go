package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/lambda-slackbot/slackbot/contract"
)

func loadProject(t *testing.T) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject(filepath.Join("..", "Pulumi.yaml"))
	if err != nil {
		t.Fatalf("Pulumi's loader rejects Pulumi.yaml: %v", err)
	}
	return proj
}

func programKeys() []string {
	keys := slices.Clone(secretKeys)
	for k := range defaults {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func TestProjectFile(t *testing.T) {
	proj := loadProject(t)
	if proj.Name != "slackbot" || proj.Runtime.Name() != "go" || proj.Main != "infra/" || proj.Description == nil {
		t.Errorf("project %s runtime %s main %q: want slackbot, go, infra/, with a description",
			proj.Name, proj.Runtime.Name(), proj.Main)
	}
	if _, err := os.Stat(filepath.Join("..", proj.Main, "main.go")); err != nil {
		t.Errorf("main %q holds no main.go: %v", proj.Main, err)
	}

	var declared []string
	for k := range proj.Config {
		declared = append(declared, k)
	}
	slices.Sort(declared)
	if !slices.Equal(declared, programKeys()) {
		t.Fatalf("Pulumi.yaml declares %v; the program reads %v", declared, programKeys())
	}

	var required []string
	for key, decl := range proj.Config {
		if strings.TrimSpace(decl.Description) == "" {
			t.Errorf("%s: no description", key)
		}
		if decl.Secret != slices.Contains(secretKeys, key) {
			t.Errorf("%s: secret=%v, but the program reads it as secret=%v", key, decl.Secret, !decl.Secret)
		}
		// The CLI applies a default as a plaintext value and then rejects it for
		// a typed secret key ("must be encrypted as it's secret").
		if decl.Secret && decl.IsExplicitlyTyped() && decl.Default != nil {
			t.Errorf("%s: a typed secret with a default fails every stack that leaves it unset", key)
		}
		if decl.Default == nil && decl.Value == nil {
			required = append(required, key)
			continue
		}
		want, ok := defaults[key]
		if !ok {
			t.Errorf("%s: Pulumi.yaml has a default the program does not know", key)
		} else if fmt.Sprint(decl.Default) != fmt.Sprint(want) {
			t.Errorf("%s: Pulumi.yaml default %v, program default %v", key, decl.Default, want)
		}
		if decl.IsExplicitlyTyped() {
			goType := map[string]string{"string": "string", "integer": "int", "boolean": "bool"}[decl.TypeName()]
			if gotType := fmt.Sprintf("%T", want); gotType != goType {
				t.Errorf("%s: declared %s, program default is %s", key, decl.TypeName(), gotType)
			}
		}
	}
	if !slices.Equal(required, []string{keySigningSecret}) {
		t.Errorf("required keys %v, want only %s", required, keySigningSecret)
	}
	if got := proj.Config[keyCommandName].Default; got != contract.SlashCommand {
		t.Errorf("commandName default %v, want contract.SlashCommand %q", got, contract.SlashCommand)
	}
}

// TestDevStack loads Pulumi.dev.yaml with Pulumi's loader, validates each value
// against the declared schema as the CLI does, and runs the program with it.
func TestDevStack(t *testing.T) {
	proj := loadProject(t)
	stack, err := workspace.LoadProjectStack(nil, proj, filepath.Join("..", "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatalf("Pulumi's loader rejects Pulumi.dev.yaml: %v", err)
	}
	cfg := map[string]string{}
	for key, v := range stack.Config {
		full := key.Namespace() + ":" + key.Name()
		if v.Secure() {
			// `pulumi config set --secret` stores a declared secret here
			// encrypted; anything else must not be encrypted by mistake.
			if key.Namespace() != string(proj.Name) || !proj.Config[key.Name()].Secret {
				t.Errorf("%s is encrypted but not a declared secret", full)
			}
			continue
		}
		raw, err := v.Value(config.NopDecrypter)
		if err != nil {
			t.Fatalf("%s: %v", full, err)
		}
		cfg[full] = raw
		if key.Namespace() != string(proj.Name) {
			continue
		}
		decl, ok := proj.Config[key.Name()]
		if !ok {
			t.Errorf("%s is not declared in Pulumi.yaml", full)
			continue
		}
		if decl.Secret {
			t.Errorf("%s is a secret in plaintext", full)
		}
		var value any = raw
		if v.Object() {
			if err := json.Unmarshal([]byte(raw), &value); err != nil {
				t.Fatalf("%s: %v", full, err)
			}
		}
		if decl.IsExplicitlyTyped() && !workspace.ValidateConfigValue(decl.TypeName(), decl.Items, value) {
			t.Errorf("%s = %q is not of the declared type %s", full, raw, decl.TypeName())
		}
	}
	if cfg["aws:region"] != "ap-northeast-2" {
		t.Errorf("aws:region = %q, want ap-northeast-2", cfg["aws:region"])
	}
	// The CLI fills in Pulumi.yaml's defaults before the program runs.
	for key, decl := range proj.Config {
		full := string(proj.Name) + ":" + key
		if _, ok := cfg[full]; !ok && decl.Default != nil {
			cfg[full] = fmt.Sprint(decl.Default)
		}
	}
	// Stands in for the encrypted value `pulumi config set --secret` adds.
	cfg["slackbot:"+keySigningSecret] = testSecrets[keySigningSecret]
	if _, err := runProgram(t, "dev", cfg); err != nil {
		t.Errorf("the program rejects the dev stack's settings: %v", err)
	}
}

// TestDeployDocs keeps the README's deploy section in step with the program:
// every secret key it must be told, every other setting, the manifest command,
// every output, the number of resources the first `up` creates, and the role
// each workflow assumes.
func TestDeployDocs(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, doc, ok := strings.Cut(string(b), "\n## Deploy\n")
	if !ok {
		t.Fatal("README.md has no ## Deploy section")
	}
	doc, _, _ = strings.Cut(doc, "\n## ")
	want := []string{"pulumi stack init", "pulumi up", "pulumi stack output slackAppManifest > manifest.json"}
	for _, k := range secretKeys {
		want = append(want, "pulumi config set --secret "+k+" ")
	}
	for k := range defaults {
		if !slices.Contains(secretKeys, k) {
			want = append(want, "`"+k+"`")
		}
	}
	r := mustRun(t, baseConfig())
	for o := range r.outputs {
		want = append(want, "| `"+o+"` |")
	}
	custom := 0
	for _, res := range r.resources {
		if res.Custom {
			custom++
		}
	}
	components := len(r.resources) - custom
	// Pulumi's own count adds the stack and the default provider.
	want = append(want, fmt.Sprintf("creates %d AWS resources (%d with the stack, the provider and the %d components",
		custom, len(r.resources)+2, components))
	want = append(want, "`AWS_ROLE_ARN`", "`AWS_PREVIEW_ROLE_ARN`")
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("README.md's deploy section lacks %q", w)
		}
	}
}
