package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
)

// outputManifest is the stack output holding the app manifest's JSON.
const outputManifest = "slackAppManifest"

// stackManifest reads the manifest from `pulumi stack output --json`: an
// object of outputs whose slackAppManifest is a string holding the manifest's
// JSON. ok is false when the stack has no such output, as before its first
// `pulumi up`.
func stackManifest(outputs []byte) (m *slack.Manifest, ok bool, err error) {
	if len(bytes.TrimSpace(outputs)) == 0 {
		return nil, false, nil
	}
	var outs map[string]json.RawMessage
	if err := json.Unmarshal(outputs, &outs); err != nil {
		return nil, false, fmt.Errorf("stack outputs: %w", err)
	}
	raw, ok := outs[outputManifest]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, false, fmt.Errorf("stack output %s: want a string holding JSON: %w", outputManifest, err)
	}
	m, err = parseManifest([]byte(text))
	if err != nil {
		return nil, false, fmt.Errorf("stack output %s: %w", outputManifest, err)
	}
	return m, true, nil
}

// parseManifest decodes a manifest's JSON. It refuses fields slack.Manifest
// does not know: decoding would drop them silently, and the app would then
// lose a setting on every update.
func parseManifest(b []byte) (*slack.Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m slack.Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("app manifest: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, errors.New("app manifest: more than one JSON value")
	}
	if m.Display.Name == "" {
		return nil, errors.New("app manifest: no display_information.name; is this a Slack app manifest?")
	}
	return &m, nil
}

// withoutURLs is the manifest an app is first created from. Slack checks the
// events request URL when a manifest is saved, and the deployed function can
// answer only once `pulumi up` has given it the signing secret that creation
// returns. So the parts that need a request URL wait for the update: event
// subscriptions, interactivity with the shortcuts that need it, and the
// slash command.
func withoutURLs(m slack.Manifest) slack.Manifest {
	m.Settings.EventSubscriptions = nil
	m.Settings.Interactivity = nil
	m.Features.SlashCommands = nil
	m.Features.Shortcuts = nil
	return m
}

// bootstrapManifest is the app created before the stack has ever been
// deployed, when it has no manifest output yet: the name, the bot user and
// the scopes, so that the install URL Slack returns asks for them. The
// update after `pulumi up` sets the rest from the stack's manifest.
func bootstrapManifest(name string) slack.Manifest {
	return slack.Manifest{
		Metadata:    slack.ManifestMetadata{MajorVersion: 1, MinorVersion: 1},
		Display:     slack.Display{Name: name},
		Features:    slack.Features{BotUser: slack.BotUser{DisplayName: name}},
		OAuthConfig: slack.OAuthConfig{Scopes: slack.OAuthScopes{Bot: slices.Clone(contract.BotScopes)}},
	}
}
