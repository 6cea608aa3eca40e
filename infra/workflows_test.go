package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var workflowFiles = []string{".github/workflows/preview.yml", ".github/workflows/up.yml"}

// actionlint runs `go tool actionlint` from the module root, as `make lint` does.
func actionlint(t *testing.T, files ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "actionlint", "-no-color"}, files...)...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestWorkflowsPassActionlint(t *testing.T) {
	if out, err := actionlint(t, workflowFiles...); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	// The same linter must reject a broken workflow, or the pass above proves nothing.
	bad := filepath.Join(t.TempDir(), "bad.yml")
	body := "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n" +
		"      - uses: pulumi/actions@v6\n        with:\n          comand: preview\n"
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := actionlint(t, bad); err == nil || !strings.Contains(out, "comand") {
		t.Errorf("actionlint accepted a misspelt input: %v\n%s", err, out)
	}
}

type workflow struct {
	On          map[string]any `yaml:"on"`
	Permissions map[string]string
	Concurrency struct {
		Group            string
		CancelInProgress bool `yaml:"cancel-in-progress"`
	}
	Jobs map[string]struct {
		Needs       any
		If          string
		Permissions map[string]string
		Steps       []struct {
			Uses string
			Run  string
			With map[string]any
			Env  map[string]string
		}
	}
}

func loadWorkflow(t *testing.T, name string) *workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &w
}

// step finds the first step of any job that uses action (without its version).
func (w *workflow) step(action string) (job string, with map[string]any, env map[string]string, perms map[string]string) {
	for name, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses, action+"@") {
				return name, s.With, s.Env, j.Permissions
			}
		}
	}
	return "", nil, nil, nil
}

func (w *workflow) runs(command string) bool {
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.TrimSpace(s.Run) == command {
				return true
			}
		}
	}
	return false
}

func TestWorkflowsPreviewAndDeploy(t *testing.T) {
	for _, tc := range []struct {
		file, trigger, command, role string
	}{
		// A pull request's code runs in the preview: it gets a read-only role.
		{workflowFiles[0], "pull_request", "preview", "AWS_PREVIEW_ROLE_ARN"},
		{workflowFiles[1], "push", "up", "AWS_ROLE_ARN"},
	} {
		w := loadWorkflow(t, tc.file)
		if _, ok := w.On[tc.trigger]; !ok {
			t.Errorf("%s: not triggered by %s: %v", tc.file, tc.trigger, w.On)
		}
		if tc.trigger == "push" {
			branches, _ := w.On["push"].(map[string]any)["branches"].([]any)
			if len(branches) != 1 || branches[0] != "main" {
				t.Errorf("%s: pushes to %v, want main only", tc.file, branches)
			}
			if w.Concurrency.Group == "" || w.Concurrency.CancelInProgress {
				t.Errorf("%s: deployments must queue in one concurrency group, never cancel: %+v", tc.file, w.Concurrency)
			}
		}
		if !w.runs("make test") {
			t.Errorf("%s: never runs make test", tc.file)
		}
		job, with, env, perms := w.step("pulumi/actions")
		if job == "" || with["command"] != tc.command || with["stack-name"] == nil {
			t.Errorf("%s: pulumi/actions step %v, want command %s with a stack", tc.file, with, tc.command)
		}
		if env["PULUMI_ACCESS_TOKEN"] != "${{ secrets.PULUMI_ACCESS_TOKEN }}" {
			t.Errorf("%s: PULUMI_ACCESS_TOKEN %q", tc.file, env["PULUMI_ACCESS_TOKEN"])
		}
		if tc.command == "preview" && (with["comment-on-pr"] != true || perms["pull-requests"] != "write") {
			t.Errorf("%s: the preview must comment on the pull request: %v, permissions %v", tc.file, with, perms)
		}
		if perms["id-token"] != "write" {
			t.Errorf("%s: job %s lacks id-token: write, which OIDC needs", tc.file, job)
		}
		awsJob, awsWith, _, _ := w.step("aws-actions/configure-aws-credentials")
		if want := "${{ secrets." + tc.role + " }}"; awsJob != job || awsWith["role-to-assume"] != want {
			t.Errorf("%s: AWS credentials %v in job %q, want OIDC with %s in %q", tc.file, awsWith, awsJob, want, job)
		}
		for _, k := range []string{"aws-access-key-id", "aws-secret-access-key"} {
			if _, ok := awsWith[k]; ok {
				t.Errorf("%s: long-lived %s; use OIDC", tc.file, k)
			}
		}
		if w.Permissions["contents"] != "read" || len(w.Permissions) != 1 {
			t.Errorf("%s: workflow permissions %v, want contents: read only", tc.file, w.Permissions)
		}
	}
}

// TestPreviewNeverGetsTheDeployRole searches the whole preview workflow, not
// only the credentials step, for the deploy role's secret.
func TestPreviewNeverGetsTheDeployRole(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", workflowFiles[0]))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "AWS_ROLE_ARN") {
		t.Errorf("%s mentions AWS_ROLE_ARN, the deploy role; previews use AWS_PREVIEW_ROLE_ARN", workflowFiles[0])
	}
}

// pinnedRE is a `uses:` pinned to a full commit SHA with its version in a
// comment, the form Dependabot and Renovate keep up to date.
var pinnedRE = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+(?:\.\d+){0,2}\s*$`)

// unpinned returns the lines of a workflow whose `uses:` is not pinnedRE's
// form: a tag or branch can be moved to other code, a SHA alone says nothing
// about the version.
func unpinned(body string) []string {
	var bad []string
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, "uses:") && !pinnedRE.MatchString(line) {
			bad = append(bad, strings.TrimSpace(line))
		}
	}
	return bad
}

func TestActionsArePinned(t *testing.T) {
	const sha = "3d3c42e5aac5ba805825da76410c181273ba90b1"
	for line, ok := range map[string]bool{
		"      - uses: actions/checkout@" + sha + " # v7.0.1":  true,
		"        uses: actions/checkout@" + sha + " # v7":      true,
		"      - uses: actions/checkout@v7":                    false,
		"      - uses: actions/checkout@v7 # v7.0.1":           false,
		"      - uses: actions/checkout@" + sha:                false,
		"      - uses: actions/checkout@" + sha + " # pinned":  false,
		"      - uses: actions/checkout@" + sha[:39] + " # v7": false,
		"      - uses: actions/checkout@main # v7":             false,
	} {
		if got := len(unpinned(line)) == 0; got != ok {
			t.Errorf("unpinned(%q) passes = %v, want %v", line, got, ok)
		}
	}

	for _, file := range workflowFiles {
		b, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range unpinned(string(b)) {
			t.Errorf("%s: %q is not pinned to a commit SHA with a # vX.Y.Z comment", file, line)
		}
		// Every step that uses an action was seen by the line scan, so none
		// escapes it by being written in another YAML form.
		steps := 0
		for _, j := range loadWorkflow(t, file).Jobs {
			for _, s := range j.Steps {
				if s.Uses != "" {
					steps++
				}
			}
		}
		if lines := strings.Count(string(b), "uses:"); steps == 0 || lines != steps {
			t.Errorf("%s: %d steps use actions, %d lines say uses:", file, steps, lines)
		}
	}
}
