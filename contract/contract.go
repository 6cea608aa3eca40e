// Package contract holds the names and formats that the Pulumi program (infra/)
// and the Lambda functions (functions/) must agree on. Both sides import it, so a
// route, an environment variable or the access-log format cannot drift apart.
package contract

import "time"

// Routes of the REST API. API Gateway's resourcePath and the access log's
// "resourcePath" carry these values.
const (
	EventsPath       = "/slack/events"
	CommandsPath     = "/slack/commands"
	InteractionsPath = "/slack/interactions"
	// InstallPath and OAuthRedirectPath are the two GET routes of Slack's
	// OAuth v2 install: the first sends the browser to Slack, the second is
	// where Slack sends it back with a code (the app's redirect URL).
	InstallPath       = "/slack/install"
	OAuthRedirectPath = "/slack/oauth_redirect"
)

// Block Kit action IDs of the latency report: buttons that choose the window
// and a menu that chooses the route. Each element's value is a ReportChoice
// as JSON, so a click carries all it needs and the server keeps no state.
const (
	ActionReportWindow = "latency_report_window"
	ActionReportRoute  = "latency_report_route"
)

// ReportWindows are the windows the report's buttons offer. Slack wants
// each action_id unique within its block, so each button's is
// ReportWindowAction(w), not ActionReportWindow itself.
var ReportWindows = []string{"15m", "1h", "24h", "7d"}

// ReportWindowAction is the action_id of the report's button for window w.
func ReportWindowAction(w string) string { return ActionReportWindow + "_" + w }

// NotifyShortcut is the callback_id of the global shortcut that opens the
// notify modal: the manifest declares it and the commands function answers it.
const NotifyShortcut = "notify"

// ReportChoice is the value of a report button or route option: the report
// to show when it is clicked. Slack allows 2000 bytes in a button's value
// and 150 in an option's, so the keys are short.
type ReportChoice struct {
	Window string `json:"w"`           // like "15m", "1h", "7d"
	Route  string `json:"r,omitempty"` // "" means all routes
	// Source is the latency source reported. It is left out for the
	// bot's own API (DefaultSource), so buttons posted before sources
	// existed still mean the same report.
	Source string `json:"s,omitempty"`
}

// Function names: each is a directory under functions/ holding a package main
// that builds into a Lambda "bootstrap".
const (
	EventsFunction      = "events"
	CommandsFunction    = "commands"
	PercentilesFunction = "percentiles"
)

// Environment variables read by the Lambdas and the dev server.
const (
	EnvSecretARN         = "SLACKBOT_SECRET_ARN"
	EnvSigningSecret     = "SLACK_SIGNING_SECRET"
	EnvVerificationToken = "SLACK_VERIFICATION_TOKEN"
	EnvBotToken          = "SLACK_BOT_TOKEN"
	EnvWebhookURL        = "SLACK_WEBHOOK_URL"
	EnvSlackAPIURL       = "SLACK_API_URL"
	EnvDedupeTable       = "SLACKBOT_DEDUPE_TABLE"
	EnvSketchTable       = "SLACKBOT_SKETCH_TABLE"
	EnvReportChannel     = "SLACKBOT_REPORT_CHANNEL"
	EnvReportWindow      = "SLACKBOT_REPORT_WINDOW"
	// EnvReportVia is how scheduled reports and alerts reach Slack: one
	// of the ReportVia values.
	EnvReportVia = "SLACKBOT_REPORT_VIA"
	// EnvAlertRules is the alert rules as JSON (see AlertRule).
	EnvAlertRules = "SLACKBOT_ALERT_RULES"
	// EnvLatencySources is the latency sources beyond the bot's own API,
	// as JSON (see LatencySource).
	EnvLatencySources = "SLACKBOT_LATENCY_SOURCES"
	// EnvAccessLogGroup is the bot's own access-log group. A subscription
	// batch from a group that is neither it nor a source's is dropped;
	// unset (a local run), such batches are the bot's own.
	EnvAccessLogGroup = "SLACKBOT_ACCESS_LOG_GROUP"
	// EnvChartFunction is the function that draws charts for the commands
	// function (the percentiles function, which links the plotting library
	// for its scheduled reports anyway), so commands does not pay for the
	// plotting library on every cold start. Unset: commands draws none.
	EnvChartFunction = "SLACKBOT_CHART_FUNCTION"
	// EnvAlarmTopicARN is the stack's alarm topic: only CloudWatch alarm
	// notifications from it, about alarms of its account and region, are
	// posted.
	EnvAlarmTopicARN = "SLACKBOT_ALARM_TOPIC_ARN"
	EnvLogLevel      = "LOG_LEVEL"

	// EnvClientID and EnvClientSecret are the app's OAuth credentials for
	// local runs, as the secret's client_id and client_secret are deployed.
	// Without a client id the install routes answer 404.
	EnvClientID     = "SLACK_CLIENT_ID"
	EnvClientSecret = "SLACK_CLIENT_SECRET"
	// EnvInstallationsTable is the DynamoDB table of the workspaces that
	// installed the app (key InstallationKey); unset: in memory.
	EnvInstallationsTable = "SLACKBOT_INSTALLATIONS_TABLE"
	// EnvTokenKey is the KMS key (id or ARN) that encrypts the tokens in the
	// installations table.
	EnvTokenKey = "SLACKBOT_TOKEN_KEY"
	// EnvReportTeam is the workspace (team ID) whose installation posts
	// scheduled reports and alerts when no bot token is configured.
	EnvReportTeam = "SLACKBOT_REPORT_TEAM"

	// EnvNotifyUsers and EnvNotifyChannels are comma-separated allow-lists
	// of who may post as the bot with `notify` (user IDs) and where to
	// (channel IDs or names). Empty means any member, any channel; either
	// way the user must be a member of the target channel.
	EnvNotifyUsers    = "SLACKBOT_NOTIFY_USERS"
	EnvNotifyChannels = "SLACKBOT_NOTIFY_CHANNELS"

	// EnvClaimLease is how long an event's in-progress claim keeps other
	// deliveries off it (a Go duration, default 30s). It must outlast the
	// function's timeout, so a claim is taken over only from a dead attempt.
	EnvClaimLease = "SLACKBOT_CLAIM_LEASE"

	// EnvSecretVersion carries the secret's version id. No function reads
	// it: the secret is cached per container, and a new value here makes
	// Lambda start fresh containers that read the new secret.
	EnvSecretVersion = "SLACKBOT_SECRET_VERSION"
)

// DynamoDB tables: the dedupe table is keyed by DedupeKey; the sketch table
// by SketchRouteKey (S) and SketchMinuteKey (N, unix seconds of the minute's
// start). Both expire items through TTL on TTLAttribute (N, unix seconds).
const (
	DedupeKey       = "event_id"
	SketchRouteKey  = "route"
	SketchMinuteKey = "minute"
	TTLAttribute    = "expires_at"
	// InstallationKey (S) keys the installations table: "T:<team id>" for
	// a workspace, "E:<enterprise id>" for an org-wide install.
	InstallationKey = "installation"
)

// Values of EnvReportVia (the stack's reportVia): ReportViaAuto uses the
// bot token when the secret has one and the incoming webhook otherwise.
const (
	ReportViaAuto    = "auto"
	ReportViaBot     = "bot"
	ReportViaWebhook = "webhook"
)

// Secret is the JSON document stored in the Secrets Manager secret.
// SigningSecret is required; the rest are optional per feature.
type Secret struct {
	SigningSecret     string `json:"signing_secret"`
	VerificationToken string `json:"verification_token,omitempty"`
	BotToken          string `json:"bot_token,omitempty"`
	WebhookURL        string `json:"webhook_url,omitempty"`
	// ClientID and ClientSecret are the app's OAuth credentials, for
	// installs through /slack/install.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// Secret JSON keys, for error messages that name a missing key.
const (
	SecretKeySigningSecret = "signing_secret"
)

// AccessLogFormat is the API Gateway stage's access-log format: one JSON object
// per request. Every value is quoted because API Gateway writes "-" for a value
// it does not have (integrationLatency of a throttled request, for one), which
// would make an unquoted number invalid JSON; the ingest accepts numbers as JSON
// numbers or strings.
const AccessLogFormat = `{"requestId":"$context.requestId",` +
	`"requestTimeEpoch":"$context.requestTimeEpoch",` +
	`"httpMethod":"$context.httpMethod",` +
	`"resourcePath":"$context.resourcePath",` +
	`"status":"$context.status",` +
	`"responseLatency":"$context.responseLatency",` +
	`"integrationLatency":"$context.integrationLatency"}`

// SlashCommand is the slash command's default name.
const SlashCommand = "/slackbot"

// BotScopes are the bot token scopes the app needs: app_mentions:read for
// the mention event, commands for the slash command, chat:write and
// chat:write.public to post, and channels:read with groups:read to find
// public and private channels by name (conversations.list) and to check
// that whoever asks `notify` to post is a member (conversations.members),
// and files:write to upload the latency chart (files.getUploadURLExternal
// and files.completeUploadExternal).
var BotScopes = []string{"app_mentions:read", "channels:read", "chat:write", "chat:write.public", "commands", "files:write", "groups:read"}

// BotEvents are the Events API events the app subscribes to (the
// manifest's bot_events), each handled by the events function:
// bot.TestEveryBotEventIsHandled fails for one without a function.
var BotEvents = []string{"app_mention", "app_uninstalled", "tokens_revoked"}

// DefaultClaimLease is the in-progress lease when EnvClaimLease is unset.
// The HTTP functions time out after 10 seconds, so a lease of 30 outlives
// any attempt that could still finish.
const DefaultClaimLease = 30 * time.Second
