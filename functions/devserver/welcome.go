package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
)

// responsePath stands in for a slash command's response_url in local runs.
const responsePath = "/_dev/response_url"

// printResponse shows what a deferred command posted to its response_url.
func printResponse(w io.Writer) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		var v any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&v); err != nil {
			http.Error(rw, `{"error":"not JSON"}`, http.StatusBadRequest)
			return
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(w, "[slack response_url, not sent]\n%s\n", b)
		rw.Write([]byte("ok"))
	}
}

// exampleCommand is a slash command form like the one Slack sends, with a
// fresh trigger_id: Slack's is unique per command, and the bot runs the
// work of each trigger_id once.
func exampleCommand(base, text string) string {
	return url.Values{
		"token":        {"local"},
		"team_id":      {"T0LOCAL"},
		"team_domain":  {"local"},
		"channel_id":   {"C0LOCAL01"},
		"channel_name": {"general"},
		"user_id":      {"U0LOCAL01"},
		"user_name":    {"you"},
		"command":      {contract.SlashCommand},
		"text":         {text},
		"response_url": {base + responsePath},
		"trigger_id":   {strconv.FormatInt(time.Now().UnixNano(), 10) + ".local"},
		"api_app_id":   {"A0LOCAL01"},
	}.Encode()
}

// exampleClick is the block_actions form Slack sends when someone clicks a
// window button of a latency report that was posted ephemerally.
func exampleClick(base, window, trigger string) string {
	value, _ := json.Marshal(contract.ReportChoice{Window: window})
	payload, _ := json.Marshal(map[string]any{
		"type":         "block_actions",
		"user":         map[string]string{"id": "U0LOCAL01", "name": "you"},
		"team":         map[string]string{"id": "T0LOCAL"},
		"trigger_id":   trigger,
		"response_url": base + responsePath,
		"container":    map[string]any{"type": "message", "channel_id": "C0LOCAL01", "message_ts": "1700000000.000100", "is_ephemeral": true},
		"actions":      []map[string]string{{"type": "button", "action_id": contract.ActionReportWindow, "block_id": "report", "value": string(value)}},
	})
	return url.Values{"payload": {string(payload)}}.Encode()
}

func printWelcome(w io.Writer, base string, cfg config.Config, generated bool) {
	fmt.Fprintf(w, "slackbot dev server on %s\n", base)
	fmt.Fprintf(w, "  POST %s%s  (Slack Events API)\n", base, contract.EventsPath)
	fmt.Fprintf(w, "  POST %s%s  (slash commands)\n", base, contract.CommandsPath)
	fmt.Fprintf(w, "  POST %s%s  (buttons, shortcuts, modals)\n", base, contract.InteractionsPath)
	if cfg.ClientID != "" {
		fmt.Fprintf(w, "  GET  %s%s  (open it to install the app in a workspace; redirect URL %s%s)\n",
			base, contract.InstallPath, base, contract.OAuthRedirectPath)
	}
	fmt.Fprintln(w)
	if generated {
		fmt.Fprintf(w, "No %s set: this session's signing secret is\n  %s\n\n", contract.EnvSigningSecret, cfg.SigningSecret)
	}
	if cfg.BotToken == "" {
		fmt.Fprintf(w, "No %s: messages are printed here instead of sent to Slack.\n\n", contract.EnvBotToken)
	}
	secret := "$SLACK_SIGNING_SECRET"
	if generated {
		secret = cfg.SigningSecret
	}
	fmt.Fprintf(w, "Try it (a correctly signed slash command, an Events API challenge, then a click on the report's 24h button):\n\n")
	// The shell makes each run's trigger_id, so the example can be run again.
	cmd := triggerID.ReplaceAllString(exampleCommand(base, "latency"), `trigger_id='"$$(date +%s%N)"'.local`)
	fmt.Fprintf(w, "%s\n\n", curlExample(base+contract.CommandsPath, secret, cmd))
	fmt.Fprintf(w, "%s\n\n", curlExample(base+contract.EventsPath, secret, `{"type":"url_verification","challenge":"hello-slack"}`))
	click := strings.Replace(exampleClick(base, "24h", "shell-trigger"), "shell-trigger", `'"$(date +%s%N)"'`, 1)
	fmt.Fprintf(w, "%s\n\n", curlExample(base+contract.InteractionsPath, secret, click))
	fmt.Fprintf(w, "Text \"latency 15m chart\" instead shares a chart of p50/p90/p99; without a bot token its PNG is written under a temporary directory and its path printed.\n")
	if len(cfg.AlertRules) > 0 {
		fmt.Fprintf(w, "%s: %d alert rules are checked after each request; a change of state is posted to the report channel.\n", contract.EnvAlertRules, len(cfg.AlertRules))
	}
	if os.Getenv(contract.EnvSecretARN) == "" && !generated {
		fmt.Fprintf(w, "(signing secret from %s)\n", contract.EnvSigningSecret)
	}
}

var triggerID = regexp.MustCompile(`trigger_id=[0-9]+\.local`)

// curlExample signs body with openssl at run time, so the example works for
// longer than Slack's five-minute window.
func curlExample(endpoint, secret, body string) string {
	return fmt.Sprintf(`body='%s'
ts=$(date +%%s); sig="v0=$(printf 'v0:%%s:%%s' "$ts" "$body" | openssl dgst -sha256 -hmac '%s' | sed 's/^.* //')"
curl -sS -X POST '%s' -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: $sig" --data "$body"; echo`, body, secret, endpoint)
}
