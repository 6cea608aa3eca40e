package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// configTokens holds the app configuration token pair. A configuration token
// lasts 12 hours; the refresh token buys a new pair once, after which the old
// refresh token no longer works.
type configTokens struct {
	api            *slack.Client
	token, refresh string
	file           string // where a rotated pair is written
	out            io.Writer
	rotated        bool
}

// do calls Slack with the configuration token. When Slack refuses the token
// as expired or invalid, it rotates the pair with the refresh token, once,
// and calls again.
func (t *configTokens) do(ctx context.Context, call func(token string) error) error {
	err := call(t.token)
	if !tokenRefused(err) || t.rotated {
		return err
	}
	if t.refresh == "" {
		return fmt.Errorf("%w: SLACK_CONFIG_TOKEN has expired or is not valid, and SLACK_CONFIG_REFRESH_TOKEN is not set to rotate it; %s", err, tokenHelp)
	}
	if err := t.rotate(ctx); err != nil {
		return err
	}
	return call(t.token)
}

// rotate exchanges the refresh token for a new pair and writes it to the
// token file: the user needs it for the next run, and a token is never
// printed.
func (t *configTokens) rotate(ctx context.Context) error {
	t.rotated = true
	// tooling.tokens.rotate needs only the refresh token, not the expired one.
	resp, err := t.api.RotateTokensContext(ctx, "", t.refresh)
	if err != nil {
		return fmt.Errorf("rotate the configuration token with SLACK_CONFIG_REFRESH_TOKEN: %w; %s", err, tokenHelp)
	}
	if resp.Token == "" || resp.RefreshToken == "" {
		return errors.New("rotate the configuration token: Slack's answer lacks the new tokens; " + tokenHelp)
	}
	t.token, t.refresh = resp.Token, resp.RefreshToken
	if err := writeTokens(t.file, resp.Token, resp.RefreshToken); err != nil {
		return fmt.Errorf("rotated the configuration token, but could not keep the new pair (%w), and the old refresh token no longer works; %s", err, tokenHelp)
	}
	expires := time.Unix(int64(resp.ExpiresAt), 0).Local().Format(time.DateTime + " MST")
	fmt.Fprintf(t.out, "Slack refused the configuration token as expired; rotated it with the refresh token.\n")
	fmt.Fprintf(t.out, "The new pair expires %s and replaces the old one, whose refresh token no longer works.\n", expires)
	fmt.Fprintf(t.out, "Store it before the next run: it is in %s (mode 0600); load it with: source %s\n", t.file, t.file)
	return nil
}

// tokenRefused says whether Slack refused the configuration token.
func tokenRefused(err error) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && (se.Err == "token_expired" || se.Err == "invalid_auth")
}

// writeTokens writes the pair as shell exports, readable by the user alone.
func writeTokens(path, token, refresh string) error {
	if path == "" {
		return errors.New("no token file")
	}
	for _, v := range []string{token, refresh} {
		// Single quotes keep the shell from reading anything in a token;
		// Slack's tokens never hold one, and one would break the file.
		if strings.ContainsAny(v, "'\n") {
			return errors.New("a new token holds a quote or a newline")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// OpenFile sets the mode only on a new file; an old one may be wider.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, err = fmt.Fprintf(f, "export SLACK_CONFIG_TOKEN='%s'\nexport SLACK_CONFIG_REFRESH_TOKEN='%s'\n", token, refresh)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// defaultTokenFile is in the user's config directory, outside the
// repository, so a token pair cannot be committed by mistake.
func defaultTokenFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "slackbot", "slack-config-tokens")
}
