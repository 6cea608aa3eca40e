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

// secretKeys are read only as secret Outputs, so their values never reach the
// state or the preview in plaintext.
var secretKeys = []string{keySigningSecret, keyBotToken, keyWebhookURL, keyVerificationToken, keyClientSecret}

// defaults are the values used when a key is unset. The Pulumi CLI applies
// Pulumi.yaml's defaults before the program runs; the program applies the same
// ones so it behaves alike when run another way (tests, automation API).
var defaults = map[string]any{
	keyBotToken:                "",
	keyWebhookURL:              "",
	keyVerificationToken:       "",
	keyReportChannel:           "",
	keyReportSchedule:          "rate(1 hour)",
	keyReportWindow:            "1h",
	keyReportVia:               contract.ReportViaAuto,
	keyLatencyAlerts:           "",
	keyLatencySources:          "",
	keyManageBucketNotes:       false,
	keyArchitecture:            "arm64",
	keyMemorySize:              256,
	keyLogRetentionDays:        14,
	keyManageAPIGatewayAccount: true,
	keyThrottlingRateLimit:     25,
	keyThrottlingBurstLimit:    50,
	keyAppName:                 "latencybot",
	keyCommandName:             contract.SlashCommand,
	keyNotifyUsers:             "",
	keyNotifyChannels:          "",
	keySlackAppID:              "",
	keyClientID:                "",
	keyClientSecret:            "",
	keyTokenRotation:           false,
	keyReportTeam:              "",
}

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

func loadSettings(ctx *pulumi.Context) (*settings, error) {
	cfg := stackConfig{ctx}
	s := &settings{}
	var errs []string
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if cfg.Get(keySigningSecret) == "" {
		fail(keySigningSecret, "required: the Slack app's signing secret (pulumi config set --secret %s <value>)", keySigningSecret)
	}
	s.SigningSecret = cfg.GetSecret(keySigningSecret)
	s.BotToken = cfg.GetSecret(keyBotToken)
	s.WebhookURL = cfg.GetSecret(keyWebhookURL)
	s.VerificationToken = cfg.GetSecret(keyVerificationToken)
	s.ClientSecret = cfg.GetSecret(keyClientSecret)
	if w := cfg.Get(keyWebhookURL); w != "" {
		s.HasWebhook = true
		// The value itself stays out of the error: it is a secret.
		if !strings.HasPrefix(w, "https://") {
			fail(keyWebhookURL, "want an https:// URL from the Slack app's Incoming Webhooks page")
		}
	}

	str := func(key string) string {
		if v := cfg.Get(key); v != "" {
			return v
		}
		return defaults[key].(string)
	}
	num := func(key string) int {
		v := cfg.Get(key)
		if v == "" {
			return defaults[key].(int)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fail(key, "%q is not an integer", v)
			return defaults[key].(int) // one error per key, not a second about the range
		}
		return n
	}
	boolean := func(key string) bool {
		v := cfg.Get(key)
		if v == "" {
			return defaults[key].(bool)
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(key, "%q is not true or false", v)
		}
		return b
	}

	var err error
	s.ReportChannel = str(keyReportChannel)
	s.ReportSchedule = str(keyReportSchedule)
	if err := checkSchedule(s.ReportSchedule); err != nil {
		fail(keyReportSchedule, "%v", err)
	}
	s.ReportWindow = str(keyReportWindow)
	// The functions read the window with the same rule (contract.ParseWindow),
	// so refusing it here fails the preview, not the report.
	if _, err := contract.ParseWindow(s.ReportWindow); err != nil {
		fail(keyReportWindow, "%v", err)
	}
	s.ReportVia = str(keyReportVia)
	if err := checkReportVia(s.ReportVia, s.HasWebhook); err != nil {
		fail(keyReportVia, "%v", err)
	}
	// Sources come first: a rule's source must be one of them.
	prefix := safeName(ctx.Project() + "-" + ctx.Stack())
	sourcesOK := true
	s.LatencySources, s.Sources, err = latencySourcesEnv(cfg.Get(keyLatencySources), prefix)
	if err != nil {
		fail(keyLatencySources, "%v", err)
		sourcesOK = false
	}
	s.ManageBucketNotifications = boolean(keyManageBucketNotes)
	rules, err := alertRulesEnv(cfg.Get(keyLatencyAlerts), s.Sources, sourcesOK)
	if err != nil {
		fail(keyLatencyAlerts, "%v", err)
	}
	s.AlertRules = rules

	s.Architecture = str(keyArchitecture)
	goarch, err := lambdabuild.GOARCH(s.Architecture)
	if err != nil {
		fail(keyArchitecture, "%q: want arm64 or x86_64", s.Architecture)
	}
	s.GOARCH = goarch

	s.MemorySize = num(keyMemorySize)
	if s.MemorySize < 128 || s.MemorySize > 10240 {
		fail(keyMemorySize, "%d MB: Lambda accepts 128 to 10240", s.MemorySize)
	}
	s.LogRetentionDays = num(keyLogRetentionDays)
	if !slices.Contains(retentionDays, s.LogRetentionDays) {
		fail(keyLogRetentionDays, "%d: CloudWatch Logs accepts one of %v", s.LogRetentionDays, retentionDays)
	}
	s.ManageAPIGatewayAccount = boolean(keyManageAPIGatewayAccount)
	s.ThrottlingRateLimit = num(keyThrottlingRateLimit)
	if s.ThrottlingRateLimit < 1 {
		fail(keyThrottlingRateLimit, "%d: want at least 1 request per second", s.ThrottlingRateLimit)
	}
	s.ThrottlingBurstLimit = num(keyThrottlingBurstLimit)
	if s.ThrottlingBurstLimit < 1 {
		fail(keyThrottlingBurstLimit, "%d: want at least 1", s.ThrottlingBurstLimit)
	}

	s.AppName = str(keyAppName)
	if n := len([]rune(s.AppName)); n > 35 {
		fail(keyAppName, "%q: Slack allows at most 35 characters", s.AppName)
	}
	// Slack keeps "Slackbot" for its own bot, and the App Directory refuses
	// any app whose name holds "Slack"; failing the preview says so before
	// Slack does.
	if strings.Contains(strings.ToLower(s.AppName), "slack") {
		fail(keyAppName, "%q: Slack refuses app names containing \"Slack\" (it reserves Slackbot for its own bot); choose another, like %q", s.AppName, defaults[keyAppName])
	}
	s.CommandName = str(keyCommandName)
	if !commandRE.MatchString(s.CommandName) {
		fail(keyCommandName, "%q: want a slash and up to 31 lowercase letters, digits, - or _", s.CommandName)
	}

	// list splits a comma-separated key and trims each item; the first item
	// valid rejects fails the key, named in the error so it can be fixed.
	list := func(key, want string, valid func(string) bool) string {
		v := strings.TrimSpace(cfg.Get(key))
		if v == "" {
			return ""
		}
		items := strings.Split(v, ",")
		for i, item := range items {
			items[i] = strings.TrimSpace(item)
			if !valid(items[i]) {
				fail(key, "%q: want %s, separated by commas", items[i], want)
				return ""
			}
		}
		return strings.Join(items, ",")
	}
	s.NotifyUsers = list(keyNotifyUsers, "Slack user IDs like U0123ABCD", userIDRE.MatchString)
	s.NotifyChannels = list(keyNotifyChannels, "channel IDs like C0123ABCDE or names like #general",
		func(c string) bool { return channelIDRE.MatchString(c) || channelNameRE.MatchString(c) })

	s.ClientID = strings.TrimSpace(cfg.Get(keyClientID))
	switch hasSecret := cfg.Get(keyClientSecret) != ""; {
	case s.ClientID != "" && !clientIDRE.MatchString(s.ClientID):
		fail(keyClientID, "%q: want the app's Client ID from Basic Information, like 1234567890.1234567890", s.ClientID)
	case s.ClientID != "" && !hasSecret:
		fail(keyClientSecret, "required with %s: the app's Client Secret (pulumi config set --secret %s <value>)", keyClientID, keyClientSecret)
	case s.ClientID == "" && hasSecret:
		fail(keyClientID, "required with %s: the app's Client ID", keyClientSecret)
	}
	s.TokenRotation = boolean(keyTokenRotation)
	if s.TokenRotation && s.ClientID == "" {
		fail(keyTokenRotation, "rotating tokens are refreshed with the app's credentials: set %s and %s", keyClientID, keyClientSecret)
	}
	s.ReportTeam = strings.TrimSpace(cfg.Get(keyReportTeam))
	if s.ReportTeam != "" && !teamIDRE.MatchString(s.ReportTeam) {
		fail(keyReportTeam, "%q: want the team ID (T0123ABCD) of the workspace reportChannel is in", s.ReportTeam)
	}

	if len(errs) > 0 {
		return nil, fmt.Errorf("stack config: %s", strings.Join(errs, "; "))
	}
	return s, nil
}
