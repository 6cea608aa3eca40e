package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/slack-go/slack"
)

// Stack config keys this command reads and writes.
const (
	keyAppID         = "slackAppId"
	keySigningSecret = "signingSecret"
	keyClientID      = "clientId"
	keyClientSecret  = "clientSecret"
	keyAppName       = "appName"
	// defaultAppName is Pulumi.yaml's default of appName; a test keeps the
	// two equal.
	defaultAppName = "latencybot"
)

// tokenHelp says where a configuration token comes from.
const tokenHelp = "create one at https://api.slack.com/apps, under \"Your App Configuration Tokens\" → Generate Token, " +
	"and set SLACK_CONFIG_TOKEN and SLACK_CONFIG_REFRESH_TOKEN"

// deps is what run needs from outside.
type deps struct {
	Slack  *slack.Client
	Pulumi Pulumi
	// ManifestFile, when set, is read instead of the stack's output.
	ManifestFile string
	// Token and RefreshToken are the app configuration token pair.
	Token, RefreshToken string
	// TokenFile is where a rotated pair is written, since the old refresh
	// token stops working once used.
	TokenFile string
	Out       io.Writer
}

// run creates the stack's Slack app, or updates it once created. The phase
// follows from the stack: no slackAppId means create; an app id and a
// deployed manifest mean update.
func run(ctx context.Context, d deps) error {
	if d.Token == "" {
		return errors.New("SLACK_CONFIG_TOKEN is not set: " + tokenHelp)
	}
	appID, err := d.Pulumi.ConfigGet(ctx, keyAppID)
	if err != nil {
		return err
	}
	m, deployed, err := d.manifest(ctx)
	if err != nil {
		return err
	}
	t := &configTokens{api: d.Slack, token: d.Token, refresh: d.RefreshToken, file: d.TokenFile, out: d.Out}
	switch {
	case appID == "":
		return d.create(ctx, t, m, deployed)
	case !deployed:
		return fmt.Errorf("the Slack app %s exists but the stack has no %s output yet: run `pulumi up`, then `make slack-app` again", appID, outputManifest)
	default:
		return d.update(ctx, t, m, appID)
	}
}

// manifest is the manifest from ManifestFile, or else the stack's output;
// ok is false when the stack has none yet.
func (d deps) manifest(ctx context.Context) (m *slack.Manifest, ok bool, err error) {
	if d.ManifestFile != "" {
		b, err := os.ReadFile(d.ManifestFile)
		if err != nil {
			return nil, false, fmt.Errorf("manifest: %w", err)
		}
		m, err := parseManifest(b)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", d.ManifestFile, err)
		}
		return m, true, nil
	}
	outputs, err := d.Pulumi.StackOutputs(ctx)
	if err != nil {
		return nil, false, err
	}
	return stackManifest(outputs)
}

// create makes the app without request URLs (see withoutURLs) and stores its
// id and signing secret in the stack config.
func (d deps) create(ctx context.Context, t *configTokens, m *slack.Manifest, deployed bool) error {
	var first slack.Manifest
	if deployed {
		first = withoutURLs(*m)
	} else {
		name, err := d.Pulumi.ConfigGet(ctx, keyAppName)
		if err != nil {
			return err
		}
		if name == "" {
			name = defaultAppName
		}
		first = bootstrapManifest(name)
	}
	if err := validate(ctx, t, &first, ""); err != nil {
		return err
	}
	var resp *slack.ManifestResponse
	err := t.do(ctx, func(token string) (err error) {
		resp, err = t.api.CreateManifestContext(ctx, &first, token)
		return err
	})
	if err != nil {
		return manifestError("create the Slack app", resp, err)
	}
	if resp.AppId == "" || resp.Credentials == nil || resp.Credentials.SigningSecret == "" {
		return fmt.Errorf("create the Slack app: Slack's answer lacks the app id or the signing secret (app %q)", resp.AppId)
	}

	// The id first: should storing the secret fail, the next run updates
	// this app rather than creating a second one.
	var errs []error
	if err := d.Pulumi.ConfigSet(ctx, keyAppID, resp.AppId, false); err != nil {
		errs = append(errs, fmt.Errorf("created the Slack app %s but could not store its id (%w); run: pulumi config set %s %s",
			resp.AppId, err, keyAppID, resp.AppId))
	}
	// Slack returns the signing secret only now; it is never printed.
	if err := d.Pulumi.ConfigSet(ctx, keySigningSecret, resp.Credentials.SigningSecret, true); err != nil {
		errs = append(errs, fmt.Errorf("created the Slack app %s but could not store its signing secret (%w); regenerate it at https://api.slack.com/apps/%s/general (App Credentials) and run: pulumi config set --secret %s <secret>",
			resp.AppId, err, resp.AppId, keySigningSecret))
	}
	// The OAuth credentials let the stack's install URL take installs.
	if c := resp.Credentials; c.ClientId != "" && c.ClientSecret != "" {
		if err := d.Pulumi.ConfigSet(ctx, keyClientID, c.ClientId, false); err != nil {
			errs = append(errs, fmt.Errorf("created the Slack app %s but could not store its client id (%w); run: pulumi config set %s %s",
				resp.AppId, err, keyClientID, c.ClientId))
		}
		if err := d.Pulumi.ConfigSet(ctx, keyClientSecret, c.ClientSecret, true); err != nil {
			errs = append(errs, fmt.Errorf("created the Slack app %s but could not store its client secret (%w); copy it from https://api.slack.com/apps/%s/general (App Credentials) and run: pulumi config set --secret %s <secret>",
				resp.AppId, err, resp.AppId, keyClientSecret))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	fmt.Fprintf(d.Out, "Created the Slack app %s (%q), without request URLs yet.\n", resp.AppId, first.Display.Name)
	fmt.Fprintf(d.Out, "Stored its id as %s, and its signing secret, client id and client secret as %s, %s and %s (the secrets encrypted) in the stack config.\n",
		keyAppID, keySigningSecret, keyClientID, keyClientSecret)
	fmt.Fprintf(d.Out, "Next:\n")
	fmt.Fprintf(d.Out, "  pulumi up        # the functions get the new credentials\n")
	fmt.Fprintf(d.Out, "  make slack-app   # sets the request URLs; Slack checks them against the functions\n")
	fmt.Fprintf(d.Out, "Then install the app from the stack's install URL: pulumi stack output installUrl\n")
	return nil
}

// update sends the whole manifest, request URLs included, to the app.
func (d deps) update(ctx context.Context, t *configTokens, m *slack.Manifest, appID string) error {
	if err := validate(ctx, t, m, appID); err != nil {
		return err
	}
	var resp *slack.UpdateManifestResponse
	err := t.do(ctx, func(token string) (err error) {
		resp, err = t.api.UpdateManifestContext(ctx, m, token, appID)
		return err
	})
	if err != nil {
		var mr *slack.ManifestResponse
		if resp != nil {
			mr = &resp.ManifestResponse
		}
		err = manifestError("update the Slack app "+appID, mr, err)
		if mr != nil && refersToURL(mr.Errors) {
			err = fmt.Errorf("%w\nSlack could not verify the stack's request URLs with the app's signing secret: run `pulumi up` after `make slack-app` has created the app, then run this again", err)
		}
		return err
	}
	fmt.Fprintf(d.Out, "Updated the Slack app %s from the stack's manifest, request URLs included.\n", appID)
	if resp.PermissionsUpdated {
		fmt.Fprintf(d.Out, "Its scopes changed: reinstall it to grant them.\n")
	}
	if u := d.installURL(ctx); u != "" {
		fmt.Fprintf(d.Out, "Install (or reinstall) it in a workspace by opening %s\n", u)
		return nil
	}
	fmt.Fprintf(d.Out, "Install (or reinstall) it: https://api.slack.com/apps/%s/install-on-team → Install to Workspace.\n", appID)
	fmt.Fprintf(d.Out, "Then copy the Bot User OAuth Token (https://api.slack.com/apps/%s/oauth) and run:\n", appID)
	fmt.Fprintf(d.Out, "  pulumi config set --secret botToken xoxb-...\n  pulumi up\n")
	return nil
}

// installURL is the stack's installUrl output when its install routes are
// on (clientId set), else "".
func (d deps) installURL(ctx context.Context) string {
	if id, err := d.Pulumi.ConfigGet(ctx, keyClientID); err != nil || id == "" {
		return ""
	}
	b, err := d.Pulumi.StackOutputs(ctx)
	if err != nil {
		return ""
	}
	var out struct {
		InstallURL string `json:"installUrl"`
	}
	if json.Unmarshal(b, &out) != nil {
		return ""
	}
	return out.InstallURL
}

// validate asks Slack whether it accepts the manifest, before anything is
// created or changed.
func validate(ctx context.Context, t *configTokens, m *slack.Manifest, appID string) error {
	var resp *slack.ManifestResponse
	err := t.do(ctx, func(token string) (err error) {
		resp, err = t.api.ValidateManifestContext(ctx, m, token, appID)
		return err
	})
	if err != nil {
		return manifestError("validate the manifest", resp, err)
	}
	return nil
}

// manifestError lists Slack's errors about the manifest, each with the JSON
// pointer to the field it is about.
func manifestError(action string, resp *slack.ManifestResponse, err error) error {
	if resp == nil || len(resp.Errors) == 0 {
		return fmt.Errorf("%s: %w", action, err)
	}
	var b strings.Builder
	for _, e := range resp.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", e.Pointer, e.Message)
	}
	return fmt.Errorf("%s: Slack refused the manifest (%w):%s", action, err, b.String())
}

// refersToURL says whether an error is about a request URL, which Slack
// checks by calling it.
func refersToURL(errs []slack.ManifestValidationError) bool {
	for _, e := range errs {
		if strings.HasSuffix(e.Pointer, "request_url") || strings.HasSuffix(e.Pointer, "/url") {
			return true
		}
	}
	return false
}
