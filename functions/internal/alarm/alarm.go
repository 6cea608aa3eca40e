// Package alarm turns CloudWatch alarm notifications, as SNS delivers them to
// a Lambda function, into Slack messages: only this stack's alarms, from its
// own topic. Whoever may publish to a topic (or invoke the function) could
// otherwise make the bot say anything in the report channel, in the voice
// of an alarm ("ALARM: prod-db-down, reply with your 2FA code"), so a
// record is posted only when it came through the stack's topic and is a
// CloudWatch alarm state change of an alarm in the topic's partition,
// account and region. Everything else is dropped, with the reason, for the
// log.
//
// Everything in a notification is outside text all the same: an alarm's
// name, description and reason are whatever its author (or CloudWatch,
// quoting them) wrote. So every value is escaped for Slack mrkdwn before it
// is placed, and the only markup in a message is the console link built here.
package alarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// ErrMalformed is a Lambda event that is not valid JSON of an SNS event.
// Retrying will not fix it, but failing sends it to the function's
// on-failure destination, where a person can look at it.
var ErrMalformed = errors.New("malformed SNS notification")

// Dropped is a record that is not posted, and why. MessageID and TopicArn
// are the record's, cut short; nothing of its message is kept.
type Dropped struct {
	MessageID string
	TopicArn  string
	Reason    string
}

// Parse decodes a Lambda SNS event and returns the messages of the records
// that are this stack's alarms (see Messages), and the records dropped.
func Parse(raw []byte, topicARN string) ([]notify.Message, []Dropped, error) {
	var ev events.SNSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, nil, fmt.Errorf("%w: the Lambda event: %s", ErrMalformed, describe(err))
	}
	msgs, dropped := Messages(ev, topicARN)
	return msgs, dropped, nil
}

// Messages returns one message, without a channel, per record published to
// topicARN (the stack's alarm topic) whose message is a CloudWatch alarm
// state change of an alarm in the topic's partition, account and region.
// Every other record is dropped: another topic, another account or region,
// plain text, JSON of another shape. An empty topicARN drops everything.
func Messages(ev events.SNSEvent, topicARN string) ([]notify.Message, []Dropped) {
	var msgs []notify.Message
	var dropped []Dropped
	for _, r := range ev.Records {
		m, err := message(r.SNS, topicARN)
		if err != nil {
			dropped = append(dropped, Dropped{MessageID: short(r.SNS.MessageID, 80), TopicArn: short(r.SNS.TopicArn, 200), Reason: err.Error()})
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, dropped
}

func message(s events.SNSEntity, topicARN string) (notify.Message, error) {
	if topicARN == "" {
		return notify.Message{}, errors.New("no alarm topic is configured, so no record is the stack's")
	}
	if s.TopicArn != topicARN {
		return notify.Message{}, errors.New("not published to the stack's alarm topic")
	}
	body := strings.TrimSpace(s.Message)
	if !strings.HasPrefix(body, "{") {
		return notify.Message{}, errors.New("not a CloudWatch alarm notification: plain text")
	}
	var p events.CloudWatchAlarmSNSPayload
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return notify.Message{}, fmt.Errorf("not a valid CloudWatch alarm notification: %s", describe(err))
	}
	if p.AlarmName == "" || p.NewStateValue == "" || p.AlarmARN == "" {
		return notify.Message{}, errors.New("not a CloudWatch alarm state change: JSON of another shape")
	}
	if !sameAccount(p.AlarmARN, topicARN) {
		return notify.Message{}, errors.New("an alarm of another partition, account or region than the topic's")
	}
	return alarmMessage(p), nil
}

// sameAccount reports whether the alarm ARN,
// arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>, is in the
// partition, region and account of the topic ARN,
// arn:<partition>:sns:<region>:<account>:<name>.
func sameAccount(alarmARN, topicARN string) bool {
	a := strings.SplitN(alarmARN, ":", 7)
	t := strings.SplitN(topicARN, ":", 6)
	if len(a) != 7 || len(t) != 6 || a[0] != "arn" || a[2] != "cloudwatch" || a[5] != "alarm" || a[6] == "" ||
		t[0] != "arn" || t[2] != "sns" || !accountID.MatchString(a[4]) || !regionCode.MatchString(a[3]) {
		return false
	}
	return a[1] == t[1] && a[3] == t[3] && a[4] == t[4]
}

// Limits, in bytes of escaped text, that keep every block under Slack's
// (3,000 characters for a section's text, 2,000 for a field) whatever the
// payload holds.
const (
	maxName   = 300
	maxDesc   = 600
	maxReason = 1500
	maxField  = 300
)

// look is how a state reads at a glance.
type look struct{ emoji, label string }

var looks = map[string]look{
	"ALARM":             {":rotating_light:", "ALARM"},
	"OK":                {":white_check_mark:", "OK (resolved)"},
	"INSUFFICIENT_DATA": {":grey_question:", "INSUFFICIENT_DATA (not enough data to judge)"},
}

func stateLook(v string) look {
	if l, ok := looks[v]; ok {
		return l
	}
	return look{":grey_question:", clip(v, maxField)}
}

func alarmMessage(p events.CloudWatchAlarmSNSPayload) notify.Message {
	state := stateLook(p.NewStateValue)
	name := clip(p.AlarmName, maxName)
	headline := fmt.Sprintf("%s %s: *%s*", state.emoji, state.label, name)

	region, link := console(p.AlarmARN, p.AlarmName)
	where := clip(p.Region, maxField)
	switch {
	case where == "":
		where = region
	case region != "":
		where += " (" + region + ")"
	}
	when := stateTime(p.StateChangeTime)
	was := clip(p.OldStateValue, maxField)

	var fields []*slack.TextBlockObject
	field := func(title, value string) {
		if value != "" {
			fields = append(fields, mrkdwn("*"+title+"*\n"+value))
		}
	}
	field("Was", was)
	field("When", when)
	field("Region", where)
	field("Metric", metric(p.Trigger))

	top := headline
	if p.AlarmDescription != "" {
		top += "\n" + clip(p.AlarmDescription, maxDesc)
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(top), fields, nil)}
	text := []string{headline}
	if was != "" {
		text[0] += " (was " + was + ")"
	}
	if p.NewStateReason != "" {
		reason := clip(p.NewStateReason, maxReason)
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Reason*\n"+reason), nil, nil))
		text = append(text, reason)
	}
	if at := joinNonEmpty(", ", where, when); at != "" {
		text = append(text, at)
	}
	if link != "" {
		ref := "<" + link + "|Open the alarm in the CloudWatch console>"
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(ref)))
		text = append(text, ref)
	}
	return notify.Message{Text: strings.Join(text, "\n"), Blocks: blocks}
}

// mrkdwn is a text object of already escaped text. Verbatim, so Slack does
// not turn a bare name or URL in the payload into a mention or a link.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// stateChangeLayout is how CloudWatch writes StateChangeTime:
// 2026-11-25T10:20:41.823+0000.
const stateChangeLayout = "2006-01-02T15:04:05.000-0700"

// stateTime is the time in UTC, or the payload's own words escaped when they
// do not parse. It is not a Slack <!date> token: no "<!" is ever built from
// a payload.
func stateTime(s string) string {
	for _, layout := range []string{stateChangeLayout, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
	}
	return clip(s, maxField)
}

// metric names what the alarm watches: "AWS/Lambda Errors
// (FunctionName=slackbot-dev-events)". A metric-math alarm has none.
func metric(t events.CloudWatchAlarmTrigger) string {
	if t.MetricName == "" {
		return ""
	}
	m := strings.TrimSpace(t.Namespace + " " + t.MetricName)
	var dims []string
	for _, d := range t.Dimensions {
		dims = append(dims, d.Name+"="+d.Value)
	}
	if len(dims) > 0 {
		m += " (" + strings.Join(dims, ", ") + ")"
	}
	return clip(m, maxField)
}

var (
	regionCode = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountID  = regexp.MustCompile(`^[0-9]{12}$`)
)

// console reads the region from an alarm ARN,
// arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>, and returns it
// with the alarm's console page, escaped for mrkdwn. Both are empty when the
// ARN does not parse; the link alone is empty in a partition whose console
// address is not known here.
func console(arn, name string) (region, link string) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "cloudwatch" || parts[5] != "alarm" ||
		!regionCode.MatchString(parts[3]) || !accountID.MatchString(parts[4]) || parts[6] == "" {
		return "", ""
	}
	region = parts[3]
	var base string
	switch parts[1] {
	case "aws":
		base = "https://" + region + ".console.aws.amazon.com"
	case "aws-cn":
		base = "https://console.amazonaws.cn"
	case "aws-us-gov":
		base = "https://console.amazonaws-us-gov.com"
	default:
		return region, ""
	}
	if name == "" {
		name = parts[6]
	}
	u := base + "/cloudwatch/home?region=" + region + "#alarmsV2:alarm/" + url.PathEscape(name)
	// PathEscape leaves & as it is; mrkdwn wants it as &amp; even in a link.
	return region, slackutilsx.EscapeMessage(u)
}

// clip escapes s for mrkdwn and cuts it to at most max bytes, never inside
// an escape or a character, marking the cut with an ellipsis.
func clip(s string, max int) string {
	esc := slackutilsx.EscapeMessage(s)
	if len(esc) <= max {
		return esc
	}
	const more = "…"
	var b strings.Builder
	for _, r := range s {
		e := slackutilsx.EscapeMessage(string(r))
		if b.Len()+len(e)+len(more) > max {
			break
		}
		b.WriteString(e)
	}
	b.WriteString(more)
	return b.String()
}

// short cuts s for an error message, which must not carry a whole payload.
func short(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "…"
}

// describe says what is wrong with JSON without quoting it.
func describe(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	var tim *time.ParseError
	if errors.As(err, &tim) {
		// It quotes the whole value.
		return "the SNS Timestamp is not an RFC 3339 time"
	}
	// Type errors name the field and the JSON type; a number's digits are
	// the only value they quote.
	return short(err.Error(), 200)
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}
