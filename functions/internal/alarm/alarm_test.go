package alarm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

const consoleLink = "<https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2#alarmsV2:alarm/slackbot-dev-events-errors|Open the alarm in the CloudWatch console>"

// hostile is outside text that must never reach Slack as markup: a
// broadcast, a user mention and a disguised link.
var hostile = []string{"<!channel>", "<@U123>", "<https://evil|Reset password>"}

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rendered is everything Slack would receive: the fallback text and the
// blocks as JSON, with < left as it is so a search for "<!" can find it.
func rendered(t testing.TB, m notify.Message) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m.Blocks); err != nil {
		t.Fatal(err)
	}
	return m.Text + "\n" + b.String()
}

// markupIsOurs fails unless every < in s opens a link this package built.
func markupIsOurs(t testing.TB, s string) {
	t.Helper()
	for i := strings.IndexByte(s, '<'); i >= 0; i = nextIndex(s, '<', i) {
		if !strings.HasPrefix(s[i:], "<https://") {
			t.Fatalf("unescaped %q in\n%s", s[i:min(len(s), i+20)], s)
		}
	}
}

func nextIndex(s string, c byte, after int) int {
	j := strings.IndexByte(s[after+1:], c)
	if j < 0 {
		return -1
	}
	return after + 1 + j
}

// withAlarm is the testdata ALARM event with fields of its CloudWatch
// payload replaced.
func withAlarm(t testing.TB, change map[string]any) events.SNSEvent {
	t.Helper()
	var ev events.SNSEvent
	if err := json.Unmarshal(readEvent(t, "sns-alarm.json"), &ev); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(ev.Records[0].SNS.Message), &p); err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ev.Records[0].SNS.Message = string(b)
	return ev
}

// topic is the stack's alarm topic of the testdata.
const topic = "arn:aws:sns:ap-northeast-2:123456789012:slackbot-dev-alarms"

func publish(subject, message string) events.SNSEvent {
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventSource: "aws:sns", EventVersion: "1.0",
		SNS: events.SNSEntity{Type: "Notification", MessageID: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
			TopicArn: topic, Subject: subject, Message: message},
	}}}
}

func TestParseRealNotifications(t *testing.T) {
	for _, c := range []struct {
		file   string
		text   string   // the whole fallback text
		fields []string // the first section's fields
	}{
		{
			file: "sns-alarm.json",
			text: ":rotating_light: ALARM: *slackbot-dev-events-errors* (was OK)\n" +
				"Threshold Crossed: 1 out of the last 1 datapoints [2.0 (25/11/26 10:15:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -&gt; ALARM transition).\n" +
				"Asia Pacific (Seoul) (ap-northeast-2), 2026-11-25 10:20:41 UTC\n" + consoleLink,
			fields: []string{"*Was*\nOK", "*When*\n2026-11-25 10:20:41 UTC", "*Region*\nAsia Pacific (Seoul) (ap-northeast-2)", "*Metric*\nAWS/Lambda Errors (FunctionName=slackbot-dev-events)"},
		},
		{
			file: "sns-ok.json",
			text: ":white_check_mark: OK (resolved): *slackbot-dev-events-errors* (was ALARM)\n" +
				"Threshold Crossed: 1 out of the last 1 datapoints [0.0 (25/11/26 10:25:00)] was not greater than or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -&gt; OK transition).\n" +
				"Asia Pacific (Seoul) (ap-northeast-2), 2026-11-25 10:30:41 UTC\n" + consoleLink,
			fields: []string{"*Was*\nALARM", "*When*\n2026-11-25 10:30:41 UTC", "*Region*\nAsia Pacific (Seoul) (ap-northeast-2)", "*Metric*\nAWS/Lambda Errors (FunctionName=slackbot-dev-events)"},
		},
	} {
		t.Run(c.file, func(t *testing.T) {
			msgs, dropped, err := Parse(readEvent(t, c.file), topic)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || len(dropped) != 0 {
				t.Fatalf("%d messages, dropped %+v; want 1 message", len(msgs), dropped)
			}
			m := msgs[0]
			if m.Text != c.text {
				t.Errorf("text\n%s\nwant\n%s", m.Text, c.text)
			}
			if m.Channel != "" {
				t.Errorf("channel %q: the caller chooses it", m.Channel)
			}
			var blocks []struct {
				Type string `json:"type"`
				Text struct {
					Type     string `json:"type"`
					Text     string `json:"text"`
					Verbatim bool   `json:"verbatim"`
				} `json:"text"`
				Fields []struct {
					Text string `json:"text"`
				} `json:"fields"`
				Elements []struct {
					Text string `json:"text"`
				} `json:"elements"`
			}
			b, _ := json.Marshal(m.Blocks)
			if err := json.Unmarshal(b, &blocks); err != nil {
				t.Fatal(err)
			}
			if len(blocks) != 3 || blocks[0].Type != "section" || blocks[1].Type != "section" || blocks[2].Type != "context" {
				t.Fatalf("blocks %s, want section, section, context", b)
			}
			if !strings.HasPrefix(blocks[0].Text.Text, strings.SplitN(c.text, " (was", 2)[0]+"\nThe events function") || !blocks[0].Text.Verbatim {
				t.Errorf("first section %+v, want the headline, the description, and verbatim", blocks[0].Text)
			}
			var fields []string
			for _, f := range blocks[0].Fields {
				fields = append(fields, f.Text)
			}
			if strings.Join(fields, "|") != strings.Join(c.fields, "|") {
				t.Errorf("fields %q, want %q", fields, c.fields)
			}
			if !strings.Contains(blocks[1].Text.Text, "-&gt;") || len(blocks[2].Elements) != 1 || blocks[2].Elements[0].Text != consoleLink {
				t.Errorf("reason %q, link %s", blocks[1].Text.Text, b)
			}
		})
	}
}

// Alarm names, descriptions and reasons are outside text; none of their
// markup may reach Slack as markup, in the text or in the blocks.
func TestMessagesEscapeOutsideText(t *testing.T) {
	evil := strings.Join(hostile, " & ")
	for _, c := range []struct {
		name string
		ev   events.SNSEvent
	}{
		{"alarm", withAlarm(t, map[string]any{
			"AlarmName": evil, "AlarmDescription": evil, "NewStateReason": evil, "Region": evil,
			"OldStateValue": evil, "StateChangeTime": evil,
			"Trigger": map[string]any{"MetricName": evil, "Namespace": evil, "Dimensions": []map[string]string{{"name": evil, "value": evil}}},
		})},
		{"alarm in an unknown state", withAlarm(t, map[string]any{"NewStateValue": evil})},
		{"alarm whose ARN carries markup", withAlarm(t, map[string]any{"AlarmName": evil, "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:" + evil})},
	} {
		t.Run(c.name, func(t *testing.T) {
			msgs, dropped := Messages(c.ev, topic)
			if len(msgs) != 1 {
				t.Fatalf("%d messages, dropped %+v", len(msgs), dropped)
			}
			out := rendered(t, msgs[0])
			for _, h := range hostile {
				if strings.Contains(out, h) {
					t.Errorf("%q reached Slack unescaped:\n%s", h, out)
				}
			}
			if !strings.Contains(out, "&lt;!channel&gt; &amp; &lt;@U123&gt; &amp; &lt;https://evil|Reset password&gt;") {
				t.Errorf("the escaped text is missing, so the test proves nothing:\n%s", out)
			}
			markupIsOurs(t, out)
		})
	}
}

// TestOnlyThisStacksAlarms: of what reaches the function, only a
// CloudWatch alarm state change published to the stack's topic, about an
// alarm of the topic's partition, account and region, is posted. Forged
// alarms (another account, another region, another topic), plain text and
// JSON of other shapes are dropped with a reason, and none of their text is
// kept.
func TestOnlyThisStacksAlarms(t *testing.T) {
	forged := "ALARM: prod-payments-db-down. Reply here with your 2FA code"
	otherTopic := func(ev events.SNSEvent) events.SNSEvent {
		ev.Records[0].SNS.TopicArn = "arn:aws:sns:ap-northeast-2:123456789012:someone-elses-topic"
		return ev
	}
	for _, c := range []struct {
		name  string
		ev    events.SNSEvent
		topic string
		want  string // in the reason
	}{
		{"another account", withAlarm(t, map[string]any{"AlarmName": forged, "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:999999999999:alarm:prod-payments-db-down"}), topic, "another partition, account or region"},
		{"another region", withAlarm(t, map[string]any{"AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"}), topic, "another partition, account or region"},
		{"another partition", withAlarm(t, map[string]any{"AlarmArn": "arn:aws-cn:cloudwatch:ap-northeast-2:123456789012:alarm:x"}), topic, "another partition, account or region"},
		{"no alarm ARN", withAlarm(t, map[string]any{"AlarmArn": ""}), topic, "another shape"},
		{"an ARN that is not an alarm's", withAlarm(t, map[string]any{"AlarmArn": "arn:aws:sns:ap-northeast-2:123456789012:alarm:x"}), topic, "another partition, account or region"},
		{"another topic", otherTopic(withAlarm(t, nil)), topic, "not published to the stack's alarm topic"},
		{"no topic configured", withAlarm(t, nil), "", "no alarm topic"},
		{"plain text", publish("TestInvoke", forged), topic, "plain text"},
		{"JSON of another shape", publish("state change", `{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"x"}}`), topic, "another shape"},
		{"alarm fields missing", publish("", `{"AlarmName":"half"}`), topic, "another shape"},
		{"message cut off", publish("x", `{"AlarmName":"`+forged), topic, "not a valid CloudWatch alarm notification"},
		{"field of the wrong type", publish("x", `{"AlarmName":["x"],"NewStateValue":"ALARM"}`), topic, "AlarmName"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msgs, dropped := Messages(c.ev, c.topic)
			if len(msgs) != 0 || len(dropped) != 1 {
				t.Fatalf("%d messages (%+v), %d dropped; want it dropped", len(msgs), msgs, len(dropped))
			}
			if !strings.Contains(dropped[0].Reason, c.want) {
				t.Errorf("reason %q, want %q", dropped[0].Reason, c.want)
			}
			if strings.Contains(fmt.Sprintf("%+v", dropped[0]), "2FA") {
				t.Errorf("the dropped record keeps its text: %+v", dropped[0])
			}
		})
	}
	msgs, dropped := Messages(withAlarm(t, nil), topic)
	if len(msgs) != 1 || len(dropped) != 0 || !strings.Contains(msgs[0].Text, "slackbot-dev-events-errors") {
		t.Fatalf("the stack's own alarm: %d messages, dropped %+v; want it posted", len(msgs), dropped)
	}
}

func TestMessagesOnePerRecord(t *testing.T) {
	ev := withAlarm(t, nil)
	ev.Records = append(ev.Records, publish("second", "two").Records...)
	ev.Records = append(ev.Records, withAlarm(t, map[string]any{"NewStateValue": "OK"}).Records...)
	msgs, dropped := Messages(ev, topic)
	if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "ALARM") || !strings.Contains(msgs[1].Text, "OK") || len(dropped) != 1 {
		t.Errorf("messages %+v, dropped %+v; want the two alarms, the publish dropped", msgs, dropped)
	}
	if msgs, dropped := Messages(events.SNSEvent{}, topic); len(msgs) != 0 || len(dropped) != 0 {
		t.Errorf("no records: %d messages, %d dropped", len(msgs), len(dropped))
	}
}

func TestParseRejectsMalformedJSON(t *testing.T) {
	secret := strings.Repeat("SECRET-PAYLOAD-", 100)
	for _, c := range []struct {
		name  string
		event string
		want  []string // in the error
	}{
		{"event not JSON", "Records: " + secret, []string{"Lambda event", "invalid character", "at byte"}},
		{"records not a list", `{"Records":{"Sns":"` + secret + `"}}`, []string{"Lambda event", "cannot unmarshal"}},
		{"bad timestamp", `{"Records":[{"Sns":{"Timestamp":"` + secret + `"}}]}`, []string{"Lambda event", "Timestamp"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msgs, _, err := Parse([]byte(c.event), topic)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse: %d messages, error %v; want ErrMalformed", len(msgs), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SECRET-PAYLOAD-SECRET-PAYLOAD-SECRET") || len(err.Error()) > 500 {
				t.Errorf("the error echoes the payload (%d bytes): %.300s", len(err.Error()), err)
			}
		})
	}
}

func TestConsole(t *testing.T) {
	for _, c := range []struct {
		arn, name    string
		region, link string
	}{
		{"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:slackbot-dev-events-errors", "slackbot-dev-events-errors",
			"ap-northeast-2", "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2#alarmsV2:alarm/slackbot-dev-events-errors"},
		{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a b/c&d?e|f>g", "a b/c&d?e|f>g",
			"us-east-1", "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/a%20b%2Fc&amp;d%3Fe%7Cf%3Eg"},
		{"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:from:the:arn", "",
			"eu-west-1", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/from:the:arn"},
		{"arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x", "x", "cn-north-1", "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/x"},
		{"arn:aws-us-gov:cloudwatch:us-gov-west-1:123456789012:alarm:x", "x", "us-gov-west-1", "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#alarmsV2:alarm/x"},
		{"arn:aws-iso:cloudwatch:us-iso-east-1:123456789012:alarm:x", "x", "us-iso-east-1", ""},
		{"arn:aws:sns:ap-northeast-2:123456789012:alarm:x", "x", "", ""},
		{"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:", "", "", ""},
		{"arn:aws:cloudwatch:ap-northeast-2:1234:alarm:x", "x", "", ""},
		{"arn:aws:cloudwatch:<!channel>:123456789012:alarm:x", "x", "", ""},
		{"arn:aws:cloudwatch:evil.example/x:123456789012:alarm:x", "x", "", ""},
		{"EXAMPLE", "x", "", ""},
		{"", "", "", ""},
	} {
		region, link := console(c.arn, c.name)
		if region != c.region || link != c.link {
			t.Errorf("console(%q, %q) = %q, %q; want %q, %q", c.arn, c.name, region, link, c.region, c.link)
		}
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"a<b", 10, "a&lt;b"},
		{"a<b", 6, "a&lt;b"},
		{"a<b", 5, "a…"},   // never half an escape
		{"héllo", 5, "h…"}, // never half a character
		{"", 3, ""},
		{"<<<<", 12, "&lt;&lt;…"},
	} {
		got := clip(c.in, c.max)
		if got != c.want || len(got) > max(c.max, len(c.want)) || !utf8.ValidString(got) {
			t.Errorf("clip(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestStateTime(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2026-11-25T10:20:41.823+0000", "2026-11-25 10:20:41 UTC"},
		{"2026-11-25T19:20:41.823+0900", "2026-11-25 10:20:41 UTC"},
		{"2026-11-25T10:20:41Z", "2026-11-25 10:20:41 UTC"},
		{"yesterday <!here>", "yesterday &lt;!here&gt;"},
		{"", ""},
	} {
		if got := stateTime(c.in); got != c.want {
			t.Errorf("stateTime(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzMessages feeds any bytes as a whole Lambda event and as the SNS
// Message and Subject of a well-formed one: no panic, every failure is
// ErrMalformed and short, every reason for a drop short, and nothing from
// the input becomes Slack markup.
func FuzzMessages(f *testing.F) {
	for _, name := range []string{"sns-alarm.json", "sns-ok.json"} {
		ev := readEvent(f, name)
		var sns events.SNSEvent
		if err := json.Unmarshal(ev, &sns); err != nil {
			f.Fatal(err)
		}
		f.Add(ev, sns.Records[0].SNS.Message)
	}
	f.Add([]byte(`{"Records":[{"EventSource":"aws:sns","Sns":{"Subject":"<!channel>","Message":"<@U123>"}}]}`), "Hello from SNS!")
	f.Add([]byte(`{"Records":[]}`), `{"AlarmName":"<!here>","NewStateValue":"<!channel>","AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:<!here>"}`)
	f.Add([]byte(`not json`), `{"AlarmName":`)
	f.Add([]byte(`{"Records":[{"Sns":{"Timestamp":"x"}}]}`), "{\"AlarmName\":\"a\xffb\",\"NewStateValue\":\"ALARM\",\"NewStateReason\":\"<<<&&&>>>\"}")
	f.Fuzz(func(t *testing.T, raw []byte, message string) {
		check := func(msgs []notify.Message, dropped []Dropped, err error) {
			for _, d := range dropped {
				if len(d.Reason)+len(d.MessageID)+len(d.TopicArn) > 600 {
					t.Fatalf("a dropped record keeps too much of the input: %.200s", d.Reason)
				}
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v is not ErrMalformed", err)
				}
				if len(err.Error()) > 500 {
					t.Fatalf("a %d-byte error echoes the input: %.200s", len(err.Error()), err)
				}
				return
			}
			for _, m := range msgs {
				if m.Text == "" {
					t.Fatal("a message without text")
				}
				out := rendered(t, m)
				if strings.Contains(out, "<!") {
					t.Fatalf("<! reached Slack:\n%s", out)
				}
				markupIsOurs(t, out)
			}
		}
		check(Parse(raw, topic))
		msgs, dropped := Messages(publish(message, message), topic)
		check(msgs, dropped, nil)
	})
}
