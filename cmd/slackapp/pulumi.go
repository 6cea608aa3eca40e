package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Pulumi is what the command needs of the stack: its outputs and its config.
// The CLI implements it (cliPulumi); tests use a fake.
type Pulumi interface {
	// StackOutputs returns `pulumi stack output --json`: empty before the
	// first `pulumi up`.
	StackOutputs(ctx context.Context) ([]byte, error)
	// ConfigGet returns the key's value in the project's namespace, or ""
	// when it is not set.
	ConfigGet(ctx context.Context, key string) (string, error)
	// ConfigSet sets the key, encrypted in the stack file when secret.
	ConfigSet(ctx context.Context, key, value string, secret bool) error
}

// cliPulumi runs the pulumi CLI, on the selected stack or on Stack.
type cliPulumi struct {
	Bin   string // "pulumi", or a path
	Stack string // passed as --stack when set
}

func (p cliPulumi) StackOutputs(ctx context.Context) ([]byte, error) {
	out, err := p.run(ctx, nil, "stack", "output", "--json")
	if err != nil {
		return nil, fmt.Errorf("pulumi stack output: %w", err)
	}
	return out, nil
}

func (p cliPulumi) ConfigGet(ctx context.Context, key string) (string, error) {
	out, err := p.run(ctx, nil, "config", "get", key)
	if err != nil {
		// An unset key is an answer, not a failure: the CLI says
		// "configuration key '...' not found for stack '...'".
		if !errors.Is(err, exec.ErrNotFound) && strings.Contains(err.Error(), "configuration key") && strings.Contains(err.Error(), "not found") {
			return "", nil
		}
		return "", fmt.Errorf("pulumi config get %s: %w", key, err)
	}
	return strings.TrimRight(string(out), "\r\n"), nil
}

// ConfigSet passes a secret on stdin, which the CLI reads when no value is
// given: an argument would show in the process list.
func (p cliPulumi) ConfigSet(ctx context.Context, key, value string, secret bool) error {
	args := []string{"config", "set", key}
	var stdin []byte
	if secret {
		args = []string{"config", "set", "--secret", key}
		stdin = []byte(value)
	} else {
		args = append(args, "--", value)
	}
	if _, err := p.run(ctx, stdin, args...); err != nil {
		return fmt.Errorf("pulumi config set %s: %w", key, err)
	}
	return nil
}

// run runs the CLI without a shell and returns its stdout; a failure carries
// its stderr, which names the cause.
func (p cliPulumi) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	if p.Stack != "" {
		// Before any "--", after which it would be read as a value.
		i := slices.Index(args, "--")
		if i < 0 {
			i = len(args)
		}
		args = slices.Concat(args[:i], []string{"--stack", p.Stack}, args[i:])
	}
	cmd := exec.CommandContext(ctx, p.Bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%w: install the Pulumi CLI (https://www.pulumi.com/docs/install/)", err)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("%w: %s", err, msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}
