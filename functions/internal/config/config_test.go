package config_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestLoadFromEnvironmentOnly(t *testing.T) {
	t.Parallel()
	e := env{
		contract.EnvSigningSecret:      "signing-from-env",
		contract.EnvVerificationToken:  "token-from-env",
		contract.EnvBotToken:           "xoxb-from-env",
		contract.EnvWebhookURL:         "https://hooks.slack.com/services/T/B/env",
		contract.EnvDedupeTable:        "dedupe-table",
		contract.EnvSketchTable:        "sketch-table",
		contract.EnvReportChannel:      "#ops",
		contract.EnvReportWindow:       "15m",
		contract.EnvLogLevel:           "debug",
		contract.EnvSlackAPIURL:        "http://127.0.0.1:9999/api/",
		contract.EnvNotifyUsers:        " U0ADA, U0BOB ,",
		contract.EnvNotifyChannels:     "#ops,C0123ABCD",
		contract.EnvClaimLease:         "5s",
		contract.EnvReportVia:          "webhook",
		contract.EnvAlertRules:         `[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},{"source":"slackbot","route":"*","error_ratio":0.1,"window":"5m"}]`,
		contract.EnvLatencySources:     `[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"}]`,
		contract.EnvClientID:           "123.456",
		contract.EnvClientSecret:       "client-secret-from-env",
		contract.EnvInstallationsTable: "installs",
		contract.EnvTokenKey:           "alias/tokens",
		contract.EnvReportTeam:         "T0REPORTS1",
	}
	got, err := config.Load(context.Background(), e.get, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		Secret: contract.Secret{
			SigningSecret:     "signing-from-env",
			VerificationToken: "token-from-env",
			BotToken:          "xoxb-from-env",
			WebhookURL:        "https://hooks.slack.com/services/T/B/env",
			ClientID:          "123.456",
			ClientSecret:      "client-secret-from-env",
		},
		SlackAPIURL:   "http://127.0.0.1:9999/api/",
		DedupeTable:   "dedupe-table",
		SketchTable:   "sketch-table",
		ReportChannel: "#ops",
		ReportWindow:  15 * time.Minute,
		LogLevel:      slog.LevelDebug,
		ReportVia:     contract.ReportViaWebhook,
		// A rule without a source watches the first source.
		AlertRules: []contract.AlertRule{{Source: "orders", Route: "*", Quantile: 0.99, ThresholdMs: 800, Window: "5m",
			WindowDuration: 5 * time.Minute}, {Source: contract.DefaultSource, Route: "*", ErrorRatio: 0.1, Window: "5m", WindowDuration: 5 * time.Minute}},
		LatencySources: []contract.LatencySource{{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/aws/apigateway/orders"}},

		NotifyUsers:    []string{"U0ADA", "U0BOB"},
		NotifyChannels: []string{"#ops", "C0123ABCD"},
		ClaimLease:     5 * time.Second,

		InstallationsTable: "installs",
		TokenKey:           "alias/tokens",
		ReportTeam:         "T0REPORTS1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got, err := config.Load(context.Background(), env{}.get, nil)
	if err != nil {
		t.Fatalf("Load of an empty environment: %v", err)
	}
	want := config.Config{ReportWindow: config.DefaultReportWindow, LogLevel: slog.LevelInfo, ClaimLease: contract.DefaultClaimLease,
		ReportVia: contract.ReportViaAuto}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
}

func TestLoadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    env
		check  func(config.Config) bool
		wanted string
	}{
		{"API URL gets a trailing slash", env{contract.EnvSlackAPIURL: "http://127.0.0.1:9999/api"},
			func(c config.Config) bool { return c.SlackAPIURL == "http://127.0.0.1:9999/api/" }, "SlackAPIURL http://127.0.0.1:9999/api/"},
		{"API URL with slash kept", env{contract.EnvSlackAPIURL: "https://slack.com/api/"},
			func(c config.Config) bool { return c.SlackAPIURL == "https://slack.com/api/" }, "SlackAPIURL https://slack.com/api/"},
		{"API URL unset stays empty", env{},
			func(c config.Config) bool { return c.SlackAPIURL == "" }, "SlackAPIURL empty"},
		{"report window 1h", env{contract.EnvReportWindow: "1h"},
			func(c config.Config) bool { return c.ReportWindow == time.Hour }, "ReportWindow 1h"},
		{"report window 24h", env{contract.EnvReportWindow: "24h"},
			func(c config.Config) bool { return c.ReportWindow == 24*time.Hour }, "ReportWindow 24h"},
		{"report window 1m is the least", env{contract.EnvReportWindow: "1m"},
			func(c config.Config) bool { return c.ReportWindow == time.Minute }, "ReportWindow 1m"},
		{"report window 7d, as the stack config writes it", env{contract.EnvReportWindow: "7d"},
			func(c config.Config) bool { return c.ReportWindow == 7*24*time.Hour }, "ReportWindow 7d"},
		{"report window 90d is the most", env{contract.EnvReportWindow: "90d"},
			func(c config.Config) bool { return c.ReportWindow == 90*24*time.Hour }, "ReportWindow 90d"},
		{"log level warn", env{contract.EnvLogLevel: "warn"},
			func(c config.Config) bool { return c.LogLevel == slog.LevelWarn }, "LogLevel WARN"},
		{"log level ERROR", env{contract.EnvLogLevel: "ERROR"},
			func(c config.Config) bool { return c.LogLevel == slog.LevelError }, "LogLevel ERROR"},
		{"log level default info", env{},
			func(c config.Config) bool { return c.LogLevel == slog.LevelInfo }, "LogLevel INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(context.Background(), tt.env.get, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.check(c) {
				t.Errorf("Load = %+v, want %s", c, tt.wanted)
			}
		})
	}
}

func TestLoadRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      env
		wantName string // the variable the error must name
	}{
		{"window not a duration", env{contract.EnvReportWindow: "soon"}, contract.EnvReportWindow},
		{"window a bare number", env{contract.EnvReportWindow: "60"}, contract.EnvReportWindow},
		{"window under a minute", env{contract.EnvReportWindow: "30s"}, contract.EnvReportWindow},
		{"window negative", env{contract.EnvReportWindow: "-1h"}, contract.EnvReportWindow},
		{"window not whole minutes", env{contract.EnvReportWindow: "90s"}, contract.EnvReportWindow},
		{"window over 90 days", env{contract.EnvReportWindow: "91d"}, contract.EnvReportWindow},
		{"report via unknown", env{contract.EnvReportVia: "email"}, contract.EnvReportVia},
		{"alert rules not JSON", env{contract.EnvAlertRules: "p99>800"}, contract.EnvAlertRules},
		{"alert rule without a window", env{contract.EnvAlertRules: `[{"route":"*","error_ratio":0.1}]`}, "alert rule 0: window"},
		{"alert rule on an unknown source", env{contract.EnvAlertRules: `[{"source":"orders","route":"*","error_ratio":0.1,"window":"5m"}]`},
			`SLACKBOT_ALERT_RULES: alert rule 0: source "orders" is not a latency source`},
		{"latency sources not a list", env{contract.EnvLatencySources: `{"name":"orders"}`}, contract.EnvLatencySources},
		{"log level unknown", env{contract.EnvLogLevel: "loud"}, contract.EnvLogLevel},
		{"log level number", env{contract.EnvLogLevel: "7"}, contract.EnvLogLevel},
		{"claim lease not a duration", env{contract.EnvClaimLease: "30"}, contract.EnvClaimLease},
		{"claim lease zero", env{contract.EnvClaimLease: "0s"}, contract.EnvClaimLease},
		{"claim lease negative", env{contract.EnvClaimLease: "-5s"}, contract.EnvClaimLease},
		{"installations without their key", env{contract.EnvInstallationsTable: "installs"}, contract.EnvTokenKey},
		{"secret ARN without a client", env{
			contract.EnvSecretARN:     "arn:aws:secretsmanager:us-east-1:123456789012:secret:slackbot",
			contract.EnvSigningSecret: "from-env",
		}, contract.EnvSecretARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(context.Background(), tt.env.get, nil)
			if err == nil {
				t.Fatalf("Load = %+v, want an error", c)
			}
			if !strings.Contains(err.Error(), tt.wantName) {
				t.Errorf("error %q does not name %s", err, tt.wantName)
			}
			if !reflect.DeepEqual(c, config.Config{}) {
				t.Errorf("Load returned %+v with its error, want the zero Config", c)
			}
		})
	}
}

// Reports and alerts go through the bot token or the webhook, as
// reportVia says; a choice without its credential fails at start-up.
func TestReportPoster(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slackbot"
	hook := "https://hooks.slack.com/services/T/B/x"
	for _, c := range []struct {
		name string
		cfg  config.Config
		want string // the Poster's type, or "error"
	}{
		{"auto with a token", config.Config{ReportVia: contract.ReportViaAuto, Secret: contract.Secret{BotToken: "xoxb-1", WebhookURL: hook}}, "*notify.Client"},
		{"auto with only a webhook", config.Config{ReportVia: contract.ReportViaAuto, SecretARN: arn, Secret: contract.Secret{WebhookURL: hook}}, "*notify.Webhook"},
		{"auto with neither, deployed", config.Config{ReportVia: contract.ReportViaAuto, SecretARN: arn}, "notify.NoToken"},
		{"bot", config.Config{ReportVia: contract.ReportViaBot, Secret: contract.Secret{BotToken: "xoxb-1", WebhookURL: hook}}, "*notify.Client"},
		{"webhook over a token", config.Config{ReportVia: contract.ReportViaWebhook, Secret: contract.Secret{BotToken: "xoxb-1", WebhookURL: hook}}, "*notify.Webhook"},
		{"webhook without one", config.Config{ReportVia: contract.ReportViaWebhook, Secret: contract.Secret{BotToken: "xoxb-1"}}, "error"},
		{"bot without one, deployed", config.Config{ReportVia: contract.ReportViaBot, SecretARN: arn, Secret: contract.Secret{WebhookURL: hook}}, "error"},
		{"local run with only a webhook", config.Config{ReportVia: contract.ReportViaBot, Secret: contract.Secret{WebhookURL: hook}}, "*notify.Webhook"},
	} {
		p, err := c.cfg.ReportPoster(io.Discard)
		got := fmt.Sprintf("%T", p)
		if err != nil {
			got = "error"
		}
		if got != c.want {
			t.Errorf("%s: %s (%v), want %s", c.name, got, err, c.want)
		}
	}
}
