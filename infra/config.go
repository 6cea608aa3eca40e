package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
)

// Config keys of the slackbot namespace. Pulumi.yaml declares each one; a test
// keeps the two lists, and the defaults below, equal.
const (
	keySigningSecret           = "signingSecret"
	keyBotToken                = "botToken"
	keyWebhookURL              = "webhookUrl"
	keyVerificationToken       = "verificationToken"
	keyReportChannel           = "reportChannel"
	keyReportSchedule          = "reportSchedule"
	keyReportWindow            = "reportWindow"
	keyReportVia               = "reportVia"
	keyLatencyAlerts           = "latencyAlerts"
	keyLatencySources          = "latencySources"
	keyManageBucketNotes       = "manageBucketNotifications"
	keyArchitecture            = "architecture"
	keyMemorySize              = "memorySize"
	keyLogRetentionDays        = "logRetentionDays"
	keyManageAPIGatewayAccount = "manageApiGatewayAccount"
	keyThrottlingRateLimit     = "throttlingRateLimit"
	keyThrottlingBurstLimit    = "throttlingBurstLimit"
	keyAppName                 = "appName"
	keyCommandName             = "commandName"
	keyNotifyUsers             = "notifyUsers"
	keyNotifyChannels          = "notifyChannels"
	keyClientID                = "clientId"
	keyClientSecret            = "clientSecret"
	keyTokenRotation           = "tokenRotation"
	keyReportTeam              = "reportTeam"
	// keySlackAppID is cmd/slackapp's: it records the app it created, so
	// it updates that app afterwards. The program does not read it.
	keySlackAppID = "slackAppId"
)

// setting is one row of the stack's configuration: its key, its default
// (what Pulumi.yaml declares; nil for a key with none), whether it is
// secret, and how its value reaches settings, with the check that fails
// `pulumi preview` on a bad value. A new key is one row here and one in
// Pulumi.yaml (infra.TestProjectFile holds the two together).
type setting struct {
	key    string
	def    any // string, int or bool
	secret bool
	// read stores v (the default when unset) in s, or returns why it cannot.
	read func(s *settings, v string) error
	// output is where a secret's Output goes.
	output func(*settings) *pulumi.StringOutput
}

// text is a string setting; check, when set, refuses a bad value. A nil
// into is a key read elsewhere (the JSON lists) or not by the program.
func text(key, def string, into func(*settings) *string, check func(string) error) setting {
	return setting{key: key, def: def, read: func(s *settings, v string) error {
		if into != nil {
			*into(s) = v
		}
		if check != nil {
			return check(v)
		}
		return nil
	}}
}

// trimmed is a text setting read without surrounding spaces.
func trimmed(key string, into func(*settings) *string, check func(string) error) setting {
	row := text(key, "", into, check)
	read := row.read
	row.read = func(s *settings, v string) error { return read(s, strings.TrimSpace(v)) }
	return row
}

// items is a comma-separated setting, each item trimmed and checked by
// valid; the first it refuses fails the key, named so it can be fixed.
func items(key, want string, valid func(string) bool, into func(*settings) *string) setting {
	return setting{key: key, def: "", read: func(s *settings, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil
		}
		list := strings.Split(v, ",")
		for i, item := range list {
			list[i] = strings.TrimSpace(item)
			if !valid(list[i]) {
				return fmt.Errorf("%q: want %s, separated by commas", list[i], want)
			}
		}
		*into(s) = strings.Join(list, ",")
		return nil
	}}
}

// number is an integer setting within check's bounds.
func number(key string, def int, into func(*settings) *int, check func(int) error) setting {
	return setting{key: key, def: def, read: func(s *settings, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*into(s) = n
		return check(n)
	}}
}

// boolean is a boolean setting.
func boolean(key string, def bool, into func(*settings) *bool) setting {
	return setting{key: key, def: def, read: func(s *settings, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*into(s) = b
		return nil
	}}
}

// secret is a setting read only as a secret Output, so its value never
// reaches the state or the preview in plaintext, nor an error.
func secret(key string, def any, into func(*settings) *pulumi.StringOutput) setting {
	return setting{key: key, def: def, secret: true, output: into}
}

// settingsTable is the stack's configuration, a row a key. The secrets'
// Outputs, the cross-key rules and the JSON lists (sources, alert rules)
// are read after it, in loadSettings.
var settingsTable = []setting{
	secret(keySigningSecret, nil, func(s *settings) *pulumi.StringOutput { return &s.SigningSecret }),
	secret(keyBotToken, "", func(s *settings) *pulumi.StringOutput { return &s.BotToken }),
	secret(keyWebhookURL, "", func(s *settings) *pulumi.StringOutput { return &s.WebhookURL }),
	secret(keyVerificationToken, "", func(s *settings) *pulumi.StringOutput { return &s.VerificationToken }),
	secret(keyClientSecret, "", func(s *settings) *pulumi.StringOutput { return &s.ClientSecret }),

	text(keyReportChannel, "", func(s *settings) *string { return &s.ReportChannel }, nil),
	text(keyReportSchedule, "rate(1 hour)", func(s *settings) *string { return &s.ReportSchedule }, checkSchedule),
	// The functions read the window with the same rule (contract.ParseWindow),
	// so refusing it here fails the preview, not the report.
	text(keyReportWindow, "1h", func(s *settings) *string { return &s.ReportWindow }, func(v string) error {
		_, err := contract.ParseWindow(v)
		return err
	}),
	text(keyReportVia, contract.ReportViaAuto, func(s *settings) *string { return &s.ReportVia }, nil),
	text(keyLatencyAlerts, "", nil, nil),
	text(keyLatencySources, "", nil, nil),
	boolean(keyManageBucketNotes, false, func(s *settings) *bool { return &s.ManageBucketNotifications }),

	text(keyArchitecture, "arm64", func(s *settings) *string { return &s.Architecture }, func(v string) error {
		if _, err := lambdabuild.GOARCH(v); err != nil {
			return fmt.Errorf("%q: want arm64 or x86_64", v)
		}
		return nil
	}),
	number(keyMemorySize, 256, func(s *settings) *int { return &s.MemorySize }, func(n int) error {
		if n < 128 || n > 10240 {
			return fmt.Errorf("%d MB: Lambda accepts 128 to 10240", n)
		}
		return nil
	}),
	number(keyLogRetentionDays, 14, func(s *settings) *int { return &s.LogRetentionDays }, func(n int) error {
		if !slices.Contains(retentionDays, n) {
			return fmt.Errorf("%d: CloudWatch Logs accepts one of %v", n, retentionDays)
		}
		return nil
	}),
	boolean(keyManageAPIGatewayAccount, true, func(s *settings) *bool { return &s.ManageAPIGatewayAccount }),
	number(keyThrottlingRateLimit, 25, func(s *settings) *int { return &s.ThrottlingRateLimit }, func(n int) error {
		if n < 1 {
			return fmt.Errorf("%d: want at least 1 request per second", n)
		}
		return nil
	}),
	number(keyThrottlingBurstLimit, 50, func(s *settings) *int { return &s.ThrottlingBurstLimit }, func(n int) error {
		if n < 1 {
			return fmt.Errorf("%d: want at least 1", n)
		}
		return nil
	}),

	text(keyAppName, "latencybot", func(s *settings) *string { return &s.AppName }, checkAppName),
	text(keyCommandName, contract.SlashCommand, func(s *settings) *string { return &s.CommandName }, func(v string) error {
		if !commandRE.MatchString(v) {
			return fmt.Errorf("%q: want a slash and up to 31 lowercase letters, digits, - or _", v)
		}
		return nil
	}),
	items(keyNotifyUsers, "Slack user IDs like U0123ABCD", userIDRE.MatchString, func(s *settings) *string { return &s.NotifyUsers }),
	items(keyNotifyChannels, "channel IDs like C0123ABCDE or names like #general",
		func(c string) bool { return channelIDRE.MatchString(c) || channelNameRE.MatchString(c) },
		func(s *settings) *string { return &s.NotifyChannels }),

	trimmed(keyClientID, func(s *settings) *string { return &s.ClientID }, func(v string) error {
		if v != "" && !clientIDRE.MatchString(v) {
			return fmt.Errorf("%q: want the app's Client ID from Basic Information, like 1234567890.1234567890", v)
		}
		return nil
	}),
	boolean(keyTokenRotation, false, func(s *settings) *bool { return &s.TokenRotation }),
	trimmed(keyReportTeam, func(s *settings) *string { return &s.ReportTeam }, func(v string) error {
		if v != "" && !teamIDRE.MatchString(v) {
			return fmt.Errorf("%q: want the team ID (T0123ABCD) of the workspace reportChannel is in", v)
		}
		return nil
	}),
	// cmd/slackapp's record of the app it created; the program does not read it.
	text(keySlackAppID, "", nil, nil),
}

// secretKeys are the table's secret keys.
var secretKeys = func() []string {
	var keys []string
	for _, row := range settingsTable {
		if row.secret {
			keys = append(keys, row.key)
		}
	}
	return keys
}()

// defaults are the values used when a key is unset. The Pulumi CLI applies
// Pulumi.yaml's defaults before the program runs; the program applies the same
// ones so it behaves alike when run another way (tests, automation API).
var defaults = func() map[string]any {
	m := map[string]any{}
	for _, row := range settingsTable {
		if row.def != nil {
			m[row.key] = row.def
		}
	}
	return m
}()

// settings is the validated stack configuration.
type settings struct {
	SigningSecret     pulumi.StringOutput
	BotToken          pulumi.StringOutput
	WebhookURL        pulumi.StringOutput
	VerificationToken pulumi.StringOutput
	// HasWebhook says whether webhookUrl is set: the manifest asks for the
	// incoming-webhook scope only then. Only this bit of the secret leaves config.
	HasWebhook bool

	ReportChannel  string
	ReportSchedule string
	ReportWindow   string
	ReportVia      string
	// AlertRules is latencyAlerts as compact JSON; empty for none.
	AlertRules string
	// LatencySources is latencySources as compact JSON, empty for none,
	// and Sources the same parsed.
	LatencySources string
	Sources        []contract.LatencySource
	// ManageBucketNotifications turns on EventBridge notifications of the
	// alb sources' buckets, replacing their other notification settings.
	ManageBucketNotifications bool

	Architecture            string // arm64 or x86_64, as Lambda names them
	GOARCH                  string
	MemorySize              int
	LogRetentionDays        int
	ManageAPIGatewayAccount bool
	ThrottlingRateLimit     int
	ThrottlingBurstLimit    int

	AppName     string
	CommandName string

	// NotifyUsers and NotifyChannels are the `notify` allow-lists, trimmed
	// and comma-separated; empty allows any member or channel.
	NotifyUsers    string
	NotifyChannels string

	// ClientID and ClientSecret are the app's OAuth credentials, for
	// installs through the install URL; TokenRotation turns on Slack's
	// token rotation in the manifest. ReportTeam is the workspace whose
	// installation posts reports when no botToken is set.
	ClientID      string
	ClientSecret  pulumi.StringOutput
	TokenRotation bool
	ReportTeam    string
}

// retentionDays are the values CloudWatch Logs accepts for a log group's retention.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	commandRE = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)
	// Slack user IDs start with U, or W in Enterprise Grid; channel IDs with
	// C, or G for older private channels. Names are what Slack allows.
	userIDRE      = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	channelIDRE   = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
	channelNameRE = regexp.MustCompile(`^#?[a-z0-9_-]{1,80}$`)
	// Slack's client ids are two numbers joined by a dot; team IDs start with T.
	clientIDRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	teamIDRE   = regexp.MustCompile(`^T[A-Z0-9]{2,}$`)
)

// stackConfig reads the project's namespace of the stack configuration. It is
// what pulumi/config's Get and GetSecret do, without the extra module they need.
type stackConfig struct{ ctx *pulumi.Context }

func (c stackConfig) Get(key string) string {
	v, _ := c.ctx.GetConfig(c.ctx.Project() + ":" + key)
	return v
}

// GetSecret wraps the value as a secret whether or not it was set with --secret,
// so it reaches the state only encrypted.
func (c stackConfig) GetSecret(key string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(c.Get(key))).(pulumi.StringOutput)
}

// loadSettings reads the stack configuration: each row of settingsTable,
// then the rules that join keys, then the latency sources and alert rules.
// Every bad key is reported, not only the first.
func loadSettings(ctx *pulumi.Context) (*settings, error) {
	cfg := stackConfig{ctx}
	s := &settings{}
	var errs []string
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, row := range settingsTable {
		v := cfg.Get(row.key)
		switch {
		case row.secret:
			*row.output(s) = cfg.GetSecret(row.key)
		case v == "":
			v = fmt.Sprint(row.def)
			fallthrough
		default:
			if err := row.read(s, v); err != nil {
				fail(row.key, "%v", err)
			}
		}
	}
	checkTogether(cfg, s, fail)
	// Sources come first: a rule's source must be one of them.
	var err error
	prefix := safeName(ctx.Project() + "-" + ctx.Stack())
	sourcesOK := true
	if s.LatencySources, s.Sources, err = latencySourcesEnv(cfg.Get(keyLatencySources), prefix); err != nil {
		fail(keyLatencySources, "%v", err)
		sourcesOK = false
	}
	if s.AlertRules, err = alertRulesEnv(cfg.Get(keyLatencyAlerts), s.Sources, sourcesOK); err != nil {
		fail(keyLatencyAlerts, "%v", err)
	}
	s.GOARCH, _ = lambdabuild.GOARCH(s.Architecture)
	if len(errs) > 0 {
		return nil, fmt.Errorf("stack config: %s", strings.Join(errs, "; "))
	}
	return s, nil
}

// checkTogether applies the rules that join keys: a secret that is
// required, or required with another key, and values that only make sense
// beside another.
func checkTogether(cfg stackConfig, s *settings, fail func(key, format string, args ...any)) {
	if cfg.Get(keySigningSecret) == "" {
		fail(keySigningSecret, "required: the Slack app's signing secret (pulumi config set --secret %s <value>)", keySigningSecret)
	}
	if w := cfg.Get(keyWebhookURL); w != "" {
		s.HasWebhook = true
		// The value itself stays out of the error: it is a secret.
		if !strings.HasPrefix(w, "https://") {
			fail(keyWebhookURL, "want an https:// URL from the Slack app's Incoming Webhooks page")
		}
	}
	if err := checkReportVia(s.ReportVia, s.HasWebhook); err != nil {
		fail(keyReportVia, "%v", err)
	}
	switch hasSecret := cfg.Get(keyClientSecret) != ""; {
	case s.ClientID != "" && !clientIDRE.MatchString(s.ClientID):
		// refused by its row already
	case s.ClientID != "" && !hasSecret:
		fail(keyClientSecret, "required with %s: the app's Client Secret (pulumi config set --secret %s <value>)", keyClientID, keyClientSecret)
	case s.ClientID == "" && hasSecret:
		fail(keyClientID, "required with %s: the app's Client ID", keyClientSecret)
	}
	if s.TokenRotation && s.ClientID == "" {
		fail(keyTokenRotation, "rotating tokens are refreshed with the app's credentials: set %s and %s", keyClientID, keyClientSecret)
	}
}

// checkAppName refuses what Slack would: more than 35 characters, or
// "Slack" anywhere (Slack keeps "Slackbot" for its own bot, and the App
// Directory refuses any app whose name holds "Slack"; failing the preview
// says so before Slack does).
func checkAppName(v string) error {
	if n := len([]rune(v)); n > 35 {
		return fmt.Errorf("%q: Slack allows at most 35 characters", v)
	}
	if strings.Contains(strings.ToLower(v), "slack") {
		return fmt.Errorf("%q: Slack refuses app names containing \"Slack\" (it reserves Slackbot for its own bot); choose another, like %q", v, "latencybot")
	}
	return nil
}
