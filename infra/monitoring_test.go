package main

import (
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
)

// EventBridge rejects rate(1 hours), rate(5 hour) and five-field cron; the
// preview must, with the reason.
func TestCheckSchedule(t *testing.T) {
	for _, c := range []struct{ expr, err string }{
		{"rate(1 hour)", ""},
		{"rate(5 hours)", ""},
		{"rate(1 minute)", ""},
		{"rate(15 minutes)", ""},
		{"rate(1 day)", ""},
		{"cron(0 9 * * ? *)", ""},
		{"cron(0/15 * ? * MON-FRI *)", ""},
		{"rate(1 hours)", "singular for 1: rate(1 hour)"},
		{"rate(5 hour)", "plural above 1: rate(5 hours)"},
		{"rate(0 hours)", "at least 1"},
		{"rate(2 weeks)", "minute(s), hour(s) or day(s)"},
		{"cron(0 9 * * *)", "six fields"},
		{"cron(0 9 * * * *)", "must be ?"},
		{"cron(0 9 ? * ? *)", "must be ?"},
		{"hourly", "want an EventBridge schedule"},
		{"rate(1hour)", "want an EventBridge schedule"},
	} {
		err := checkSchedule(c.expr)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("checkSchedule(%q) = %v, want it accepted", c.expr, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("checkSchedule(%q) = %v, want an error saying %q", c.expr, err, c.err)
		}
	}
}

// Bad monitoring settings fail the preview, naming the key and what is wrong.
func TestMonitoringConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{keyReportSchedule, "rate(1 hours)", "reportSchedule: \"rate(1 hours)\": EventBridge wants the singular"},
		{keyReportSchedule, "cron(0 9 * * *)", "reportSchedule: \"cron(0 9 * * *)\": EventBridge's cron has six fields"},
		{keyReportWindow, "91d", "reportWindow: \"91d\" is too long"},
		{keyReportVia, "email", "reportVia: \"email\""},
		{keyReportVia, "webhook", "reportVia: \"webhook\" needs webhookUrl"},
		{keyLatencyAlerts, `[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},{"route":"*","quantile":99,"threshold_ms":800,"window":"5m"}]`,
			"latencyAlerts: alert rule 1: quantile 99"},
		{keyLatencyAlerts, `{"route":"*"}`, "latencyAlerts: alert rules: want a JSON array"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			cfg := baseConfig()
			delete(cfg, "slackbot:"+keyWebhookURL)
			cfg["slackbot:"+tc.key] = tc.value
			_, err := runProgram(t, "dev", cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The windows and rules reach the percentiles function as the functions
// parse them; reportWindow takes the same syntax as `latency 7d`.
func TestMonitoringEnvironment(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:reportWindow"] = "7d"
	cfg["slackbot:reportSchedule"] = "rate(6 hours)"
	cfg["slackbot:webhookUrl"] = "https://hooks.slack.com/services/T/B/x"
	cfg["slackbot:reportVia"] = "webhook"
	cfg["slackbot:latencyAlerts"] = `[ {"route":"*", "quantile":0.99, "threshold_ms":800, "window":"5m"} ]`
	r := mustRun(t, cfg)
	env := func(fn string) map[string]any {
		return r.named(t, tFunction, fn+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
	}
	p := env(contract.PercentilesFunction)
	if p[contract.EnvReportVia] != "webhook" || p[contract.EnvAlertRules] != `[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]` ||
		p[contract.EnvReportWindow] != "7d" {
		t.Errorf("percentiles environment %v", p)
	}
	if _, err := contract.ParseAlertRules(p[contract.EnvAlertRules].(string)); err != nil {
		t.Errorf("the functions cannot read the rules they get: %v", err)
	}
	for _, fn := range []string{contract.EventsFunction, contract.CommandsFunction} {
		if e := env(fn); e[contract.EnvAlertRules] != nil || e[contract.EnvReportVia] != nil {
			t.Errorf("%s gets the alert settings, which only the percentiles function uses: %v", fn, e)
		}
	}
	// A default stack sets neither, so its preview shows no change.
	d := mustRun(t, baseConfig())
	pe := d.named(t, tFunction, contract.PercentilesFunction+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
	if pe[contract.EnvReportVia] != nil || pe[contract.EnvAlertRules] != nil {
		t.Errorf("default percentiles environment %v sets report via or alert rules", pe)
	}
}
