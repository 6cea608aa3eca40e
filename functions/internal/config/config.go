// Package config reads what a function needs to run: the Slack credentials,
// from the Secrets Manager secret named by SLACKBOT_SECRET_ARN or else from the
// SLACK_* variables, and the plain settings from the environment.
package config

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
)

// Config is everything a function reads at start-up. Load it once per
// container (in main, before lambda.Start): Lambda reuses the container, so
// the secret is fetched once, and the fetch runs during INIT.
type Config struct {
	contract.Secret

	SecretARN     string
	SlackAPIURL   string // ends in "/"; empty means Slack's own
	DedupeTable   string // empty: in-memory
	SketchTable   string // empty: in-memory
	ReportChannel string
	ReportWindow  time.Duration
	LogLevel      slog.Level
	// ReportVia is how scheduled reports and alerts go out: one of
	// contract.ReportViaAuto (the default), ReportViaBot, ReportViaWebhook.
	ReportVia string
	// AlertRules are the latency and error-rate alerts to check, each
	// with its source (contract.ResolveAlertSources).
	AlertRules []contract.AlertRule
	// LatencySources are the services watched besides the bot's own API.
	LatencySources []contract.LatencySource

	// NotifyUsers and NotifyChannels are the allow-lists of notify; empty
	// means any member, any channel (membership is checked either way).
	NotifyUsers    []string
	NotifyChannels []string
	// ClaimLease is how long an in-progress claim holds off other deliveries.
	ClaimLease time.Duration

	// InstallationsTable keeps the workspaces' installations, their tokens
	// encrypted with TokenKey; empty: installs are kept in memory when a
	// client id is set (the dev server), else there are none.
	InstallationsTable string
	TokenKey           string
	// ReportTeam is the workspace whose installation posts reports and
	// alerts when there is no configured bot token.
	ReportTeam string
}

// DefaultReportWindow is the report window when SLACKBOT_REPORT_WINDOW is unset.
const DefaultReportWindow = time.Hour

// SecretsGetter is the part of the Secrets Manager client Load uses.
type SecretsGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Load reads the settings through getenv and the credentials from the secret
// (through secrets, when SLACKBOT_SECRET_ARN is set) or from getenv.
func Load(ctx context.Context, getenv func(string) string, secrets SecretsGetter) (Config, error) {
	c := Config{
		SecretARN:     getenv(contract.EnvSecretARN),
		SlackAPIURL:   getenv(contract.EnvSlackAPIURL),
		DedupeTable:   getenv(contract.EnvDedupeTable),
		SketchTable:   getenv(contract.EnvSketchTable),
		ReportChannel: getenv(contract.EnvReportChannel),
		ReportWindow:  DefaultReportWindow,

		NotifyUsers:    permit.Split(getenv(contract.EnvNotifyUsers)),
		NotifyChannels: permit.Split(getenv(contract.EnvNotifyChannels)),
		ClaimLease:     contract.DefaultClaimLease,

		InstallationsTable: getenv(contract.EnvInstallationsTable),
		TokenKey:           getenv(contract.EnvTokenKey),
		ReportTeam:         getenv(contract.EnvReportTeam),
	}
	if c.InstallationsTable != "" && c.TokenKey == "" {
		return Config{}, fmt.Errorf("%s is set but %s is not: the tokens in the table are encrypted with that KMS key", contract.EnvInstallationsTable, contract.EnvTokenKey)
	}
	if l := getenv(contract.EnvClaimLease); l != "" {
		d, err := time.ParseDuration(l)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%s=%q: want a positive Go duration, like 30s", contract.EnvClaimLease, l)
		}
		c.ClaimLease = d
	}
	if c.SlackAPIURL != "" && !strings.HasSuffix(c.SlackAPIURL, "/") {
		c.SlackAPIURL += "/"
	}
	if w := getenv(contract.EnvReportWindow); w != "" {
		// The one window rule: the stack config and the commands read it too.
		d, err := contract.ParseWindow(w)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", contract.EnvReportWindow, err)
		}
		c.ReportWindow = d
	}
	switch c.ReportVia = cmp.Or(getenv(contract.EnvReportVia), contract.ReportViaAuto); c.ReportVia {
	case contract.ReportViaAuto, contract.ReportViaBot, contract.ReportViaWebhook:
	default:
		return Config{}, fmt.Errorf("%s=%q: want %s, %s or %s", contract.EnvReportVia, c.ReportVia,
			contract.ReportViaAuto, contract.ReportViaBot, contract.ReportViaWebhook)
	}
	sources, err := contract.ParseLatencySources(getenv(contract.EnvLatencySources))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", contract.EnvLatencySources, err)
	}
	c.LatencySources = sources
	rules, err := contract.ParseAlertRules(getenv(contract.EnvAlertRules))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", contract.EnvAlertRules, err)
	}
	// A rule on a source that is not configured would never fire: the
	// function refuses to start, as the preview refuses the stack.
	if c.AlertRules, err = contract.ResolveAlertSources(rules, sources); err != nil {
		return Config{}, fmt.Errorf("%s: %w", contract.EnvAlertRules, err)
	}
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(getenv(contract.EnvLogLevel), "info"))); err != nil {
		return Config{}, fmt.Errorf("%s: %w", contract.EnvLogLevel, err)
	}
	if c.SecretARN == "" {
		c.Secret = contract.Secret{
			SigningSecret:     getenv(contract.EnvSigningSecret),
			VerificationToken: getenv(contract.EnvVerificationToken),
			BotToken:          getenv(contract.EnvBotToken),
			WebhookURL:        getenv(contract.EnvWebhookURL),
			ClientID:          getenv(contract.EnvClientID),
			ClientSecret:      getenv(contract.EnvClientSecret),
		}
		return c, nil
	}
	if secrets == nil {
		return Config{}, fmt.Errorf("%s is set but no Secrets Manager client was given", contract.EnvSecretARN)
	}
	s, err := ReadSecret(ctx, secrets, c.SecretARN)
	if err != nil {
		return Config{}, err
	}
	c.Secret = s
	return c, nil
}

// ReadSecret fetches and decodes the secret's JSON. An error never carries the
// secret's value.
func ReadSecret(ctx context.Context, secrets SecretsGetter, id string) (contract.Secret, error) {
	out, err := secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return contract.Secret{}, fmt.Errorf("read secret %s: %w", id, err)
	}
	if out.SecretString == nil {
		return contract.Secret{}, fmt.Errorf("read secret %s: it holds binary data, want a JSON string", id)
	}
	var s contract.Secret
	if err := json.Unmarshal([]byte(*out.SecretString), &s); err != nil {
		// json's errors quote a character of the input ("invalid character
		// 'p'"), and the input is a secret: say where, not what.
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return contract.Secret{}, fmt.Errorf("read secret %s: not valid JSON (at byte %d)", id, syntax.Offset)
		case errors.As(err, &typ) && typ.Field != "":
			return contract.Secret{}, fmt.Errorf("read secret %s: JSON key %q must be a string", id, typ.Field)
		default:
			return contract.Secret{}, fmt.Errorf("read secret %s: want a JSON object with %q, got another JSON value", id, contract.SecretKeySigningSecret)
		}
	}
	if s.SigningSecret == "" {
		return contract.Secret{}, fmt.Errorf("read secret %s: key %q is missing or empty", id, contract.SecretKeySigningSecret)
	}
	return s, nil
}

// FromEnvironment is a Lambda function's configuration: LoadWith on the AWS
// config of the Lambda environment (awsenv, which honours AWS_ENDPOINT_URL),
// returned too for the function's other clients.
func FromEnvironment(ctx context.Context) (Config, aws.Config, error) {
	awsCfg := awsenv.Load(os.Getenv)
	c, err := LoadWith(ctx, awsCfg)
	return c, awsCfg, err
}

// LoadWith is Load with the process environment and, when a secret is named,
// a Secrets Manager client on awsCfg.
func LoadWith(ctx context.Context, awsCfg aws.Config) (Config, error) {
	var secrets SecretsGetter
	if os.Getenv(contract.EnvSecretARN) != "" {
		secrets = secretsmanager.NewFromConfig(awsCfg)
	}
	return Load(ctx, os.Getenv, secrets)
}

// Poster is how the bot posts with these credentials: Slack with a bot token;
// without one, printed to w in a local run, and refused in words when
// deployed (SecretARN set), rather than pretend to post.
func (c Config) Poster(w io.Writer) notify.Poster {
	if c.BotToken == "" && c.SecretARN != "" {
		return notify.NoToken{}
	}
	if c.BotToken == "" && c.WebhookURL != "" {
		// A local run with only SLACK_WEBHOOK_URL: what it can post goes
		// to the webhook's channel, as a deployed report would.
		return &notify.Webhook{URL: c.WebhookURL}
	}
	return notify.New(c.BotToken, c.SlackAPIURL, w)
}

// ReportPoster is where scheduled reports and alerts go, by ReportVia:
// auto takes the bot token when there is one and the incoming webhook
// otherwise, so a stack with only a signing secret and a webhook URL
// reports. bot or webhook without its credential is an error, found at
// start-up rather than at the first report.
func (c Config) ReportPoster(w io.Writer) (notify.Poster, error) {
	switch {
	case c.ReportVia == contract.ReportViaWebhook && c.WebhookURL == "":
		return nil, fmt.Errorf("%s is %s but there is no webhook URL: set the stack's webhookUrl (pulumi config set --secret webhookUrl https://hooks.slack.com/...)",
			contract.EnvReportVia, contract.ReportViaWebhook)
	case c.ReportVia == contract.ReportViaBot && c.BotToken == "" && c.SecretARN != "":
		return nil, fmt.Errorf("%s is %s but there is no bot token: set the stack's botToken, or reportVia auto to use the webhook",
			contract.EnvReportVia, contract.ReportViaBot)
	case c.ReportVia == contract.ReportViaWebhook,
		c.ReportVia == contract.ReportViaAuto && c.BotToken == "" && c.WebhookURL != "":
		return &notify.Webhook{URL: c.WebhookURL}, nil
	}
	return c.Poster(w), nil
}

// Logger is a JSON slog logger at the configured level, for CloudWatch Logs.
func (c Config) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
}
