package main

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
)

// botEvents are the bot events the app subscribes to: mentions, and the
// two that end an installation (see package bot).
var botEvents = []string{"app_mention", "app_uninstalled", "tokens_revoked"}

// webhookScope is Slack's scope for incoming webhooks, asked for only when one is
// configured.
const webhookScope = "incoming-webhook"

// slackManifest is the Slack app manifest for this stack: paste it into the app's
// "App Manifest" page (or let cmd/slackapp send it) and Slack sends events,
// commands and interactions to this stack's URLs.
func slackManifest(s *settings, eventsURL, commandsURL, interactionsURL, redirectURL string) slack.Manifest {
	scopes := append([]string(nil), contract.BotScopes...)
	var webhooks *slack.ManifestIncomingWebhooks
	if s.HasWebhook {
		scopes = append(scopes, webhookScope)
		webhooks = &slack.ManifestIncomingWebhooks{IncomingWebhooksEnabled: true}
	}
	return slack.Manifest{
		Metadata: slack.ManifestMetadata{MajorVersion: 1, MinorVersion: 1},
		Display: slack.Display{
			Name:        s.AppName,
			Description: "Answers mentions and slash commands, and reports its own latency percentiles.",
		},
		Features: slack.Features{
			BotUser: slack.BotUser{DisplayName: s.AppName},
			SlashCommands: []slack.ManifestSlashCommand{{
				Command:     s.CommandName,
				Description: "Echo, notify a channel, or report latency percentiles",
				Url:         commandsURL,
				UsageHint:   "help | echo <text> | notify <channel> <text> | latency [window] [route]",
			}},
			// A global shortcut needs only the commands scope.
			Shortcuts: []slack.Shortcut{{
				Name:        "Notify a channel",
				CallbackID:  contract.NotifyShortcut,
				Description: "Post to a channel as the bot, saying you asked",
				Type:        slack.GlobalShortcut,
			}},
		},
		OAuthConfig: slack.OAuthConfig{RedirectUrls: []string{redirectURL}, Scopes: slack.OAuthScopes{Bot: scopes}},
		Settings: slack.Settings{
			EventSubscriptions: &slack.EventSubscriptions{
				RequestUrl: eventsURL,
				BotEvents:  botEvents,
			},
			IncomingWebhooks:     webhooks,
			Interactivity:        &slack.Interactivity{IsEnabled: true, RequestUrl: interactionsURL},
			TokenRotationEnabled: s.TokenRotation,
		},
	}
}

// manifestJSON renders the manifest once the URLs are known.
func manifestJSON(s *settings, eventsURL, commandsURL, interactionsURL, redirectURL pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.All(eventsURL, commandsURL, interactionsURL, redirectURL).ApplyT(func(v []any) (string, error) {
		b, err := json.MarshalIndent(slackManifest(s, v[0].(string), v[1].(string), v[2].(string), v[3].(string)), "", "  ")
		if err != nil {
			return "", fmt.Errorf("slack app manifest: %w", err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}
