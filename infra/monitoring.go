package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/lambda-slackbot/slackbot/contract"
)

// The monitoring settings: how reports and alerts reach Slack, the alert
// rules, and the report's schedule, each checked here so that a mistake
// fails `pulumi preview` with the reason instead of the Lambda or the
// EventBridge API at run time.

var (
	rateRE = regexp.MustCompile(`^rate\((\d+) ([a-z]+)\)$`)
	cronRE = regexp.MustCompile(`^cron\((.*)\)$`)
)

// checkSchedule accepts what EventBridge accepts of a rule's schedule
// expression: rate(N unit), with the singular unit for 1 and the plural
// otherwise, or cron with six fields, one of day-of-month and day-of-week
// being "?".
func checkSchedule(expr string) error {
	if m := rateRE.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return fmt.Errorf("%q: the rate must be a whole number of at least 1", expr)
		}
		unit := m[2]
		base := strings.TrimSuffix(unit, "s")
		if base != "minute" && base != "hour" && base != "day" {
			return fmt.Errorf("%q: the unit must be minute(s), hour(s) or day(s)", expr)
		}
		switch {
		case n == 1 && unit != base:
			return fmt.Errorf("%q: EventBridge wants the singular for 1: rate(1 %s)", expr, base)
		case n > 1 && unit == base:
			return fmt.Errorf("%q: EventBridge wants the plural above 1: rate(%d %ss)", expr, n, base)
		}
		return nil
	}
	if m := cronRE.FindStringSubmatch(expr); m != nil {
		fields := strings.Fields(m[1])
		if len(fields) != 6 {
			return fmt.Errorf("%q: EventBridge's cron has six fields (minutes hours day-of-month month day-of-week year), this has %d; e.g. cron(0 9 * * ? *)", expr, len(fields))
		}
		if (fields[2] == "?") == (fields[4] == "?") {
			return fmt.Errorf("%q: exactly one of day-of-month (3rd) and day-of-week (5th) must be ?, e.g. cron(0 9 * * ? *)", expr)
		}
		return nil
	}
	return fmt.Errorf("%q: want an EventBridge schedule like rate(1 hour), rate(15 minutes) or cron(0 9 * * ? *)", expr)
}

// checkReportVia accepts the ways reports and alerts reach Slack. webhook
// needs a webhook URL; bot is checked at run time, since the bot token is
// usually set after the first deployment.
func checkReportVia(via string, hasWebhook bool) error {
	switch via {
	case contract.ReportViaAuto, contract.ReportViaBot:
		return nil
	case contract.ReportViaWebhook:
		if !hasWebhook {
			return fmt.Errorf("%q needs webhookUrl: pulumi config set --secret webhookUrl https://hooks.slack.com/...", via)
		}
		return nil
	}
	return fmt.Errorf("%q: want %s (the bot token when there is one, else the webhook), %s or %s",
		via, contract.ReportViaAuto, contract.ReportViaBot, contract.ReportViaWebhook)
}

// alertRulesEnv checks the latencyAlerts config, a list of rules as
// contract.AlertRule describes, and returns it as compact JSON for
// SLACKBOT_ALERT_RULES; an error names the rule's index and its fault. With
// checkSources, a rule's source must be one of sources (or the bot's own);
// without, the sources are wrong already and that is the error to read.
func alertRulesEnv(raw string, sources []contract.LatencySource, checkSources bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	rules, err := contract.ParseAlertRules(raw)
	if err != nil {
		return "", err
	}
	if checkSources {
		if _, err := contract.ResolveAlertSources(rules, sources); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		return "", err
	}
	return b.String(), nil
}
