package interactions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify/notifytest"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const secret = "test-signing-secret"

var quiet = slog.New(slog.DiscardHandler)

func signed(body string) events.APIGatewayProxyRequest {
	ts, sig := verify.Signature(secret, time.Now(), []byte(body))
	return events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPost,
		Headers:    map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig},
		Body:       body,
	}
}

// form is an interaction as Slack posts it: the JSON in the payload field.
func form(payload any) string {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return url.Values{"payload": {string(b)}}.Encode()
}

// click is a block_actions payload for one action on a report message.
func clickOn(actionID string, action map[string]any, ephemeral bool) map[string]any {
	action["action_id"] = actionID
	action["block_id"] = "report"
	return map[string]any{
		"type":         "block_actions",
		"user":         map[string]string{"id": "U0123", "name": "ada"},
		"team":         map[string]string{"id": "T1"},
		"trigger_id":   "111.222.333",
		"response_url": "https://hooks.slack.com/actions/T1/1/secretpath",
		"container":    map[string]any{"type": "message", "channel_id": "C0NEWS0001", "message_ts": "1700000000.000100", "is_ephemeral": ephemeral},
		"actions":      []map[string]any{action},
	}
}

func choice(window, route string) string {
	b, _ := json.Marshal(contract.ReportChoice{Window: window, Route: route})
	return string(b)
}

func sourceChoice(source, window, route string) string {
	b, _ := json.Marshal(contract.ReportChoice{Source: source, Window: window, Route: route})
	return string(b)
}

func serve(t *testing.T, h *Handler, req events.APIGatewayProxyRequest) (int, string) {
	t.Helper()
	resp, err := h.ServeInteraction(context.Background(), req)
	if err != nil {
		t.Fatalf("error returned to Lambda: %v", err)
	}
	return resp.StatusCode, resp.Body
}

func TestServe(t *testing.T) {
	var got []string
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	h.On(slack.InteractionTypeBlockActions, "known", func(_ context.Context, cb *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
		got = append(got, cb.ActionCallback.BlockActions[0].Value)
		return nil, nil
	})
	h.On(slack.InteractionTypeViewSubmission, "form", func(context.Context, *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{"b": "no"}), nil
	})
	known := form(clickOn("known", map[string]any{"type": "button", "value": "v1"}, true))
	tests := []struct {
		name   string
		req    events.APIGatewayProxyRequest
		status int
		body   string // in the answer
	}{
		{"registered action", signed(known), 200, ""},
		{"base64", func() events.APIGatewayProxyRequest {
			r := signed(known)
			r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(r.Body)), true
			return r
		}(), 200, ""},
		{"suffixed action_id", signed(form(clickOn("known_15m", map[string]any{"type": "button", "value": "v3"}, true))), 200, ""},
		{"unregistered action is acknowledged", signed(form(clickOn("knownx", map[string]any{"type": "button", "value": "vx"}, true))), 200, ""},
		{"unregistered action is acknowledged too", signed(form(clickOn("other", map[string]any{"type": "button"}, true))), 200, ""},
		{"view submission answer", signed(form(map[string]any{"type": "view_submission", "user": map[string]string{"id": "U1"},
			"view": map[string]any{"id": "V1", "callback_id": "form"}})), 200, `"response_action":"errors"`},
		{"unsigned", events.APIGatewayProxyRequest{Body: known}, 401, `"error"`},
		{"forged", func() events.APIGatewayProxyRequest {
			r := signed(known)
			r.Body = form(clickOn("known", map[string]any{"type": "button", "value": "v2"}, true))
			return r
		}(), 401, `"error"`},
		{"empty body", signed(""), 400, `"error"`},
		{"no payload", signed("token=x"), 400, `payload`},
		{"not a form", signed("%zz"), 400, `"error"`},
		{"payload not JSON", signed("payload=%7Bnope"), 400, `"error"`},
		{"payload without user", signed(form(map[string]any{"type": "block_actions"})), 400, `"error"`},
		{"block_actions without an action", signed(form(map[string]any{"type": "block_actions", "user": map[string]string{"id": "U1"}})), 400, `"error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := serve(t, h, tt.req)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("%d %s, want %d with %q", status, body, tt.status, tt.body)
			}
		})
	}
	if strings.Join(got, ",") != "v1,v1,v3" {
		t.Errorf("the registered function saw %q, want the three signed clicks on its actions", got)
	}
}

// reporter is a fake report builder that says what it was asked.
type reporter struct {
	mu    sync.Mutex
	calls []string
	err   error
}

// Report records "[<source>:]<window> <route>".
func (r *reporter) Report(_ context.Context, req latency.Request) (notify.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	call := contract.FormatWindow(req.Window) + " " + req.Route
	if req.Source != "" {
		call = req.Source + ":" + call
	}
	r.calls = append(r.calls, call)
	if r.err != nil {
		return notify.Message{}, r.err
	}
	return notify.Message{Text: "report " + call}, nil
}

// recorder keeps what the handler posts.
type recorder = notifytest.Recorder

// sender keeps sealed jobs instead of sending them.
type sender struct{ sent []deferred.Sealed }

func (s *sender) Send(_ context.Context, d deferred.Sealed) error {
	s.sent = append(s.sent, d)
	return nil
}

// replacing is a Respond that records the posts to Slack's response URLs.
func replacing(r *recorder) func(string) notify.Poster {
	return func(u string) notify.Poster {
		if strings.HasPrefix(u, "https://hooks.slack.com/") {
			return posterFunc(func(ctx context.Context, m notify.Message) (notify.Posted, error) {
				return r.Post(ctx, m)
			})
		}
		return nil
	}
}

type posterFunc func(context.Context, notify.Message) (notify.Posted, error)

func (f posterFunc) Post(ctx context.Context, m notify.Message) (notify.Posted, error) {
	return f(ctx, m)
}

// TestReportClicks: a click is acknowledged at once and deferred; the job
// builds the report for the choice the element carries and shows it to
// the clicker through the response_url, once however often it is
// delivered: in place of an ephemeral report, or beside a channel's.
func TestReportClicks(t *testing.T) {
	tests := []struct {
		name    string
		payload map[string]any
		want    string // the report asked for
		replace bool
	}{
		{"window button, ephemeral", clickOn(contract.ActionReportWindow, map[string]any{"type": "button", "value": choice("24h", "")}, true), "slackbot:1d ", true},
		{"route menu, channel message", clickOn(contract.ActionReportRoute, map[string]any{"type": "static_select",
			"selected_option": map[string]any{"value": choice("15m", "POST /slack/events")}}, false), "slackbot:15m POST /slack/events", false},
		// A source's report asks for that source's.
		{"source's window button", clickOn(contract.ActionReportWindow, map[string]any{"type": "button", "value": sourceChoice("orders", "24h", "GET /orders")}, true),
			"orders:1d GET /orders", true},
		{"source's route menu", clickOn(contract.ActionReportRoute, map[string]any{"type": "static_select",
			"selected_option": map[string]any{"value": sourceChoice("web", "1h", "GET /files/{name}")}}, false), "web:1h GET /files/{name}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slackSrv := testenv.NewSlack(t, "xoxb-test", nil)
			tt.payload["response_url"] = slackSrv.ResponseURL()
			rep, send := &reporter{}, &sender{}
			runner := &deferred.Runner{Sealer: deferred.NewSealer(secret), Send: send, Claims: &dedupe.Memory{}, Log: quiet}
			reports := &Reports{Reports: rep, Later: runner, APIURL: slackSrv.APIURL(), Log: quiet}
			runner.On(ReportKind, reports.FinishJob)
			h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
			reports.Register(h)

			status, body := serve(t, h, signed(form(tt.payload)))
			if status != 200 || body != "" {
				t.Fatalf("answer %d %q, want an empty 200", status, body)
			}
			if len(send.sent) != 1 || len(rep.calls) != 0 {
				t.Fatalf("%d deferred, %d reports built before the answer; want the work deferred", len(send.sent), len(rep.calls))
			}
			for range 2 { // Lambda may deliver the job twice
				if err := runner.Run(context.Background(), send.sent[0]); err != nil {
					t.Fatal(err)
				}
			}
			if len(rep.calls) != 1 || rep.calls[0] != tt.want {
				t.Fatalf("reports %q, want one for %q", rep.calls, tt.want)
			}
			got := slackSrv.Responses()
			if len(got) != 1 || got[0]["text"] != "report "+tt.want || got[0]["response_type"] != "ephemeral" || (got[0]["replace_original"] == true) != tt.replace {
				t.Fatalf("response_url posts %v; want the report once, ephemeral, replacing the original: %v", got, tt.replace)
			}
		})
	}
}

// TestChannelReportUntouchedByAClick: a report posted in a channel is
// everyone's, with metadata other tools read. A click on it answers the
// clicker alone: a new ephemeral message, never chat.update, never
// replace_original.
func TestChannelReportUntouchedByAClick(t *testing.T) {
	slackSrv := testenv.NewSlack(t, "xoxb-test", nil)
	reports := &Reports{Reports: &reporter{}, APIURL: slackSrv.APIURL(), Log: quiet}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	reports.Register(h)
	for _, action := range []map[string]any{
		{"type": "button", "value": choice("7d", "")},
		{"type": "static_select", "selected_option": map[string]any{"value": choice("1h", "POST /slack/events")}},
	} {
		id := contract.ActionReportWindow
		if action["type"] == "static_select" {
			id = contract.ActionReportRoute
		}
		p := clickOn(id, action, false)
		p["response_url"] = slackSrv.ResponseURL()
		if status, body := serve(t, h, signed(form(p))); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	got := slackSrv.Responses()
	if len(got) != 2 {
		t.Fatalf("response_url posts %v, want one per click", got)
	}
	for _, r := range got {
		if r["replace_original"] == true || r["response_type"] != "ephemeral" {
			t.Errorf("answer %v: want ephemeral, leaving the channel's message as it was", r)
		}
	}
	if n := slackSrv.Updates(); n != 0 {
		t.Errorf("chat.update called %d times on a channel's report", n)
	}
}

// TestReportClickReplacesThroughResponseURL posts to a real response_url
// (the fake Slack's) and wants replace_original set.
func TestReportClickReplacesThroughResponseURL(t *testing.T) {
	slack := testenv.NewSlack(t, "xoxb-test", nil)
	reports := &Reports{Reports: &reporter{}, APIURL: slack.APIURL(), Log: quiet}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	reports.Register(h)
	p := clickOn(contract.ActionReportWindow, map[string]any{"type": "button", "value": choice("1h", "")}, true)
	p["response_url"] = slack.ResponseURL()
	if status, body := serve(t, h, signed(form(p))); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	got := slack.Responses()
	if len(got) != 1 || got[0]["replace_original"] != true || got[0]["text"] != "report slackbot:1h " {
		t.Fatalf("response_url posts %v, want the 1h report replacing the original", got)
	}

	// A response_url anywhere else is not answered.
	p["response_url"] = "https://evil.example/collect"
	p["trigger_id"] = "444.555"
	if status, _ := serve(t, h, signed(form(p))); status != 500 {
		t.Fatalf("a foreign response_url: status %d, want the failure reported", status)
	}
	if len(slack.Responses()) != 1 {
		t.Fatal("a foreign response_url was answered")
	}
}

func TestReportClickRefusesBadValues(t *testing.T) {
	rep := &reporter{}
	reports := &Reports{Reports: rep, Log: quiet}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	reports.Register(h)
	for _, v := range []string{"", "nope", choice("", ""), choice("0m", ""), choice("2x", ""), choice("400d", ""),
		choice("1h", strings.Repeat("r", 201)), `{"w":"1h","r":"\xff"}`,
		// A source must be a source's name: nothing else reaches a report.
		sourceChoice("Orders!", "1h", ""), sourceChoice(strings.Repeat("s", 33), "1h", ""), sourceChoice("<!channel>", "1h", ""),
		`{"w":"1h","s":1}`} {
		status, body := serve(t, h, signed(form(clickOn(contract.ActionReportWindow, map[string]any{"type": "button", "value": v}, true))))
		if status != 400 || !strings.Contains(body, `"error"`) {
			t.Errorf("value %q: %d %s, want a 400 {\"error\"}", v, status, body)
		}
	}
	if len(rep.calls) != 0 {
		t.Errorf("bad values built reports %q", rep.calls)
	}
}

// TestReportFailureKeepsTheMessage: a report that cannot be built is said
// to the user alone, in words, and the message stays.
func TestReportFailureKeepsTheMessage(t *testing.T) {
	resp := &recorder{}
	reports := &Reports{Reports: &reporter{err: errors.New("dial tcp 10.1.2.3:443: i/o timeout")},
		Respond: replacing(resp), Log: quiet}
	c := click{Window: time.Hour, ResponseURL: "https://hooks.slack.com/actions/T1/1/x", Replace: true}
	if err := reports.replace(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(resp.Msgs) != 1 || !strings.Contains(resp.Msgs[0].Text, "Couldn't build the report") || strings.Contains(resp.Msgs[0].Text, "10.1.2.3") {
		t.Fatalf("answer %+v: want the failure in words, without internals", resp.Msgs)
	}
}

// workspace is a permit.Directory: #news (C0NEWS0001) has U0123 in it,
// G0SECRET01 does not.
type workspace struct{}

func (workspace) ResolveChannel(_ context.Context, ch string) (string, error) {
	switch ch {
	case "C0NEWS0001", "G0SECRET01":
		return ch, nil
	}
	return "", &notify.Error{Code: "channel_not_found", Hint: "no such channel"}
}

func (workspace) IsMember(_ context.Context, id, user string) (bool, error) {
	return id == "C0NEWS0001" && user == "U0123", nil
}

// opener records views.open calls.
type opener struct{ triggers []string }

func (o *opener) OpenView(_ context.Context, trigger string, v slack.ModalViewRequest) error {
	if v.CallbackID != NotifyCallback || len(v.Blocks.BlockSet) != 2 {
		return errors.New("not the notify modal")
	}
	o.triggers = append(o.triggers, trigger)
	return nil
}

func submission(viewID, user, channel, text string) map[string]any {
	return map[string]any{
		"type":       "view_submission",
		"user":       map[string]string{"id": user},
		"team":       map[string]string{"id": "T1"},
		"trigger_id": "9.9." + viewID,
		"view": map[string]any{"id": viewID, "callback_id": NotifyCallback, "state": map[string]any{"values": map[string]any{
			notifyChannelBlock: map[string]any{notifyChannelBlock: map[string]any{"type": "conversations_select", "selected_conversation": channel}},
			notifyTextBlock:    map[string]any{notifyTextBlock: map[string]any{"type": "plain_text_input", "value": text}},
		}}},
	}
}

type viewAnswer struct {
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
	View           json.RawMessage   `json:"view"`
}

// TestNotifyModal: the shortcut opens the modal with its trigger_id; a
// submission posts as `/slackbot notify` does, once per view, and a
// refusal shows in the modal with the same words, posting nothing.
func TestNotifyModal(t *testing.T) {
	post, views := &recorder{}, &opener{}
	modal := &NotifyModal{Views: views, Notifier: slash.Notifier{Post: post, Permit: &permit.Policy{Dir: workspace{}}, Log: quiet},
		Claims: &dedupe.Memory{}, Log: quiet}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	modal.Register(h)

	shortcut := map[string]any{"type": "shortcut", "callback_id": contract.NotifyShortcut, "trigger_id": "12.34.56",
		"user": map[string]string{"id": "U0123"}, "team": map[string]string{"id": "T1"}}
	if status, body := serve(t, h, signed(form(shortcut))); status != 200 || body != "" {
		t.Fatalf("shortcut: %d %s", status, body)
	}
	if len(views.triggers) != 1 || views.triggers[0] != "12.34.56" {
		t.Fatalf("views.open calls %q, want one with the shortcut's trigger_id", views.triggers)
	}

	answer := func(p map[string]any) viewAnswer {
		t.Helper()
		status, body := serve(t, h, signed(form(p)))
		var a viewAnswer
		if status != 200 || json.Unmarshal([]byte(body), &a) != nil {
			t.Fatalf("submission: %d %s", status, body)
		}
		return a
	}
	// Refused: not a member, and no such channel, answer the same words.
	var refusals []string
	for _, ch := range []string{"G0SECRET01", "C0NOPE0001"} {
		a := answer(submission("V1", "U0123", ch, "hi"))
		if a.ResponseAction != "errors" || a.Errors[notifyChannelBlock] == "" {
			t.Fatalf("refused submission to %s answered %+v, want errors under the channel", ch, a)
		}
		refusals = append(refusals, a.Errors[notifyChannelBlock])
	}
	if refusals[0] != refusals[1] || refusals[0] != permit.ErrRefused.Error() {
		t.Errorf("refusals %q, want permit's one sentence twice", refusals)
	}
	if a := answer(submission("V1", "U0123", "", "hi")); a.Errors[notifyChannelBlock] == "" {
		t.Errorf("no channel: %+v", a)
	}
	if a := answer(submission("V1", "U0123", "C0NEWS0001", "  ")); a.Errors[notifyTextBlock] == "" {
		t.Errorf("no text: %+v", a)
	}
	if len(post.Msgs) != 0 {
		t.Fatalf("refused submissions posted %+v", post.Msgs)
	}

	// Allowed, from the view that was refused before; submitted again.
	for i, want := range []string{"Posted to <#C0NEWS0001>", "Already posted"} {
		a := answer(submission("V1", "U0123", "C0NEWS0001", "Deploy done "+testenv.HostileText))
		if a.ResponseAction != "update" || !strings.Contains(testenv.PlainJSON(t, []byte(a.View)), want) {
			t.Fatalf("submission %d answered %s %s, want the modal updated to say %q", i, a.ResponseAction, a.View, want)
		}
	}
	if len(post.Msgs) != 1 || post.Msgs[0].Channel != "C0NEWS0001" {
		t.Fatalf("posts %+v, want one to C0NEWS0001", post.Msgs)
	}
	got := post.Msgs[0].Text
	testenv.NoRawMarkup(t, "modal post", got)
	if !strings.HasPrefix(got, "Deploy done &lt;!channel&gt;") || !strings.Contains(got, "— sent by <@U0123> with the notify shortcut") {
		t.Errorf("post %q: want the text escaped and who asked said", got)
	}
}

func TestNotifyModalWithoutToken(t *testing.T) {
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	(&NotifyModal{Log: quiet}).Register(h)
	shortcut := map[string]any{"type": "shortcut", "callback_id": contract.NotifyShortcut, "trigger_id": "1", "user": map[string]string{"id": "U1"}}
	if status, body := serve(t, h, signed(form(shortcut))); status != 403 || !strings.Contains(body, "bot token") {
		t.Fatalf("%d %s, want a 403 saying the bot token is missing", status, body)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(form(clickOn(contract.ActionReportWindow, map[string]any{"type": "button", "value": choice("1h", "")}, true)))
	f.Add(form(submission("V1", "U1", "C1", "hi")))
	f.Add("payload=%7B%7D")
	f.Add("payload=null")
	f.Add("%zz")
	f.Add(`payload={"type":"block_actions","user":{"id":"U"},"actions":[{"action_id":"x"}],"state":[]}`)
	f.Fuzz(func(t *testing.T, body string) {
		cb, err := Parse([]byte(body))
		if err != nil {
			return
		}
		if cb.Type == "" || cb.User.ID == "" {
			t.Fatalf("Parse accepted %q without type or user", body)
		}
		// Every accepted interaction is dispatched without panicking.
		_ = ID(&cb)
		if cb.Type == slack.InteractionTypeBlockActions {
			ParseChoice(cb.ActionCallback.BlockActions[0].Value)
		}
	})
}

func FuzzParseChoice(f *testing.F) {
	f.Add(choice("15m", "POST /slack/events"))
	f.Add(`{"w":"7d"}`)
	f.Add(`{"w":1}`)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseChoice(v)
		if err != nil {
			return
		}
		if _, err := contract.ParseWindow(c.Window); err != nil || len(c.Route) > maxRoute {
			t.Fatalf("ParseChoice accepted %q: %+v", v, c)
		}
	})
}

// TestClickOnASourcesReport clicks the buttons the real report of a source
// carries and wants that source's report back; and a button of the bot's
// own report, which names no source, reports the bot's own, as buttons
// posted before sources existed do.
func TestClickOnASourcesReport(t *testing.T) {
	end := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return end }
	p := sketchstore.NewSketches()
	for _, ms := range []float64{80, 120, 900} {
		_ = p.Response.Add(ms)
		p.CountStatus(200)
	}
	if err := store.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{
		{Source: "web", Route: "GET /files/{name}", Minute: end.Add(-10 * time.Minute).Unix()}: p}); err != nil {
		t.Fatal(err)
	}
	store.Record("POST /slack/events", end.Add(-10*time.Minute), 30*time.Millisecond, 20*time.Millisecond)
	sources := []contract.LatencySource{
		{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/aws/apigateway/orders"},
		{Name: "web", Kind: contract.SourceALB, Bucket: "logs"},
	}
	builder := latency.NewBuilder(store, sources, func() time.Time { return end })

	for _, source := range []string{"web", contract.DefaultSource} {
		posted, err := builder.Report(context.Background(), latency.Request{Source: source, Window: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var button *slack.ButtonBlockElement
		for _, el := range posted.Blocks[len(posted.Blocks)-1].(*slack.ActionBlock).Elements.ElementSet {
			if b, ok := el.(*slack.ButtonBlockElement); ok && b.ActionID == contract.ReportWindowAction("24h") {
				button = b
			}
		}
		if button == nil {
			t.Fatalf("%s: the report has no 24h button", source)
		}
		if named := strings.Contains(button.Value, `"s":`); named != (source != contract.DefaultSource) {
			t.Errorf("%s: button value %s names the source: %v", source, button.Value, named)
		}
		resp := &recorder{}
		reports := &Reports{Reports: builder, Respond: replacing(resp), Log: quiet}
		h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
		reports.Register(h)
		if status, body := serve(t, h, signed(form(clickOn(button.ActionID, map[string]any{"type": "button", "value": button.Value}, true)))); status != 200 {
			t.Fatalf("%s: %d %s", source, status, body)
		}
		if len(resp.Msgs) != 1 || resp.Msgs[0].Metadata == nil {
			t.Fatalf("%s: replies %+v, want the report", source, resp.Msgs)
		}
		meta := resp.Msgs[0].Metadata.EventPayload
		if meta["source"] != source || meta["window_seconds"] != int64(24*3600) {
			t.Errorf("%s: the click reported source %v over %vs, want %s over a day", source, meta["source"], meta["window_seconds"], source)
		}
	}
}
