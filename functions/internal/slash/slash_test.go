package slash

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
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
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

const secret = "test-signing-secret"

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func form(text string) string {
	return url.Values{
		"token": {"legacy-token"}, "team_id": {"T1"}, "team_domain": {"acme"},
		"channel_id": {"C0123ABCD"}, "channel_name": {"general"},
		"user_id": {"U0123"}, "user_name": {"ada"}, "command": {"/slackbot"},
		"text": {text}, "response_url": {"https://hooks.slack.com/commands/T1/1/secretpath"},
		"trigger_id": {"1.2.3"}, "api_app_id": {"A1"},
	}.Encode()
}

func signed(body string) events.APIGatewayProxyRequest {
	ts, sig := verify.Signature(secret, time.Now(), []byte(body))
	return events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPost,
		Headers:    map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig},
		Body:       body,
	}
}

// recorder keeps what the handler posts.
type recorder = notifytest.Recorder

type reports struct {
	req latency.Request
}

func (r *reports) Report(_ context.Context, req latency.Request) (notify.Message, error) {
	r.req = req
	return notify.Message{Text: "the report"}, nil
}

// testSources are the latency sources the handlers under test know.
var testSources = []contract.LatencySource{
	{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/aws/apigateway/orders"},
	{Name: "workers", Kind: contract.SourceLambda, Functions: []string{"billing"}},
}

// deferrer records deferred commands instead of running them, or fails.
type deferrer struct {
	cmds []any
	err  error
}

func (d *deferrer) Later(_ context.Context, kind, id string, body any) error {
	if d.err != nil {
		return d.err
	}
	if kind != Kind || id == "" {
		return fmt.Errorf("deferred as %q with ID %q", kind, id)
	}
	d.cmds = append(d.cmds, body)
	return nil
}

// workspace is a permit.Directory: #news (C0NEWS0001) has U0123 in it,
// #secret (G0SECRET01) does not.
type workspace struct{}

func (workspace) ResolveChannel(_ context.Context, ch string) (string, error) {
	switch strings.TrimPrefix(ch, "#") {
	case "news", "C0NEWS0001":
		return "C0NEWS0001", nil
	case "secret", "G0SECRET01":
		return "G0SECRET01", nil
	}
	return "", &notify.Error{Code: "channel_not_found", Hint: "I can't find a channel named " + ch}
}

func (workspace) IsMember(_ context.Context, id, user string) (bool, error) {
	return id == "C0NEWS0001" && user == "U0123", nil
}

var anyone = &permit.Policy{Dir: workspace{}}

// here is a permit.Directory of the channel the test commands are typed in,
// C0123ABCD, with U0123 in it.
type here struct{}

func (here) ResolveChannel(_ context.Context, ch string) (string, error) {
	if ch == "C0123ABCD" {
		return ch, nil
	}
	return "", &notify.Error{Code: "channel_not_found", Hint: "I can't find a channel named " + ch}
}

func (here) IsMember(_ context.Context, id, user string) (bool, error) {
	return id == "C0123ABCD" && user == "U0123", nil
}

// inHere lets U0123 share charts in C0123ABCD.
var inHere = &permit.Policy{Dir: here{}}

type answer struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
	Blocks       []json.RawMessage
}

func serve(t *testing.T, h *Handler, req events.APIGatewayProxyRequest) (int, answer, string) {
	t.Helper()
	resp, err := h.ServeCommand(context.Background(), req)
	if err != nil {
		t.Fatalf("error returned to Lambda: %v", err)
	}
	var a answer
	json.Unmarshal([]byte(resp.Body), &a)
	return resp.StatusCode, a, resp.Body
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name   string
		req    events.APIGatewayProxyRequest
		status int
		want   string // in the answer's text
		defers int
	}{
		{"help", signed(form("help")), 200, "notify <#channel>", 0},
		{"empty text is help", signed(form("")), 200, "latency [source] [window] [route]", 0},
		{"unknown subcommand is help", signed(form("dance now")), 200, "I don't know `dance`", 0},
		{"echo", signed(form("echo hello  world")), 200, "text: hello  world", 0},
		{"notify defers", signed(form("notify #news Deploy done")), 200, "Posting to #news", 1},
		{"notify needs text", signed(form("notify #news")), 200, "needs a channel and a message", 0},
		{"latency defers", signed(form("latency 15m events")), 200, "Building the latency report", 1},
		{"latency bad window", signed(form("latency 0m")), 200, "window", 0},
		{"base64 body", func() events.APIGatewayProxyRequest {
			r := signed(form("help"))
			r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(r.Body)), true
			return r
		}(), 200, "notify <#channel>", 0},
		{"invalid base64", func() events.APIGatewayProxyRequest {
			r := signed(form("help"))
			r.Body, r.IsBase64Encoded = "%%%", true
			return r
		}(), 400, "base64", 0},
		{"empty body", signed(""), 400, "", 0},
		{"not a form", signed("%zz=1"), 400, "", 0},
		{"form without command", signed("text=help&user_id=U1"), 400, "", 0},
		{"unsigned", events.APIGatewayProxyRequest{Body: form("help")}, 401, "", 0},
		{"wrong signature", func() events.APIGatewayProxyRequest {
			r := signed(form("help"))
			r.Body = form("echo changed")
			return r
		}(), 401, "", 0},
		{"over 1 MiB", signed(form(strings.Repeat("x", 1<<20))), 413, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &deferrer{}
			h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Post: &recorder{}, Permit: anyone, Reports: &reports{},
				ParseRequest: latency.RequestParser(testSources), DefaultWindow: time.Hour, Later: d, Log: quiet}
			status, a, body := serve(t, h, tt.req)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status >= 400 {
				var e struct{ Error string }
				if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
					t.Fatalf("refusal %q is not {\"error\": ...}", body)
				}
				return
			}
			if a.ResponseType != "ephemeral" {
				t.Fatalf("response_type %q, want ephemeral", a.ResponseType)
			}
			if !strings.Contains(a.Text, tt.want) {
				t.Fatalf("text %q does not contain %q", a.Text, tt.want)
			}
			if len(a.Blocks) == 0 {
				t.Fatal("answer has no Block Kit blocks")
			}
			if len(d.cmds) != tt.defers {
				t.Fatalf("%d deferred, want %d", len(d.cmds), tt.defers)
			}
		})
	}
}

func TestEchoHidesCredentials(t *testing.T) {
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	_, a, body := serve(t, h, signed(form("echo hi")))
	for _, s := range []string{"legacy-token", "secretpath"} {
		if strings.Contains(body, s) {
			t.Fatalf("echo shows %q: %s", s, body)
		}
	}
	for _, s := range []string{"/slackbot", "U0123", "ada", "C0123ABCD", "general", "acme", "T1"} {
		if !strings.Contains(a.Text, s) {
			t.Errorf("echo lacks field value %q: %s", s, a.Text)
		}
	}
}

func TestLatencyNotSetUp(t *testing.T) {
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	_, a, _ := serve(t, h, signed(form("latency")))
	if !strings.Contains(a.Text, "not set up yet") {
		t.Fatalf("latency without reports: %q", a.Text)
	}
}

// respondTo collects what Finish posts to response_url.
func respondTo(r *recorder) func(string) notify.Poster {
	return func(string) notify.Poster { return r }
}

func TestFinish(t *testing.T) {
	cmd := func(text string) slack.SlashCommand {
		c, err := Parse([]byte(form(text)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("notify posts and confirms", func(t *testing.T) {
		post, resp := &recorder{}, &recorder{}
		h := &Handler{Post: post, Permit: anyone, Respond: respondTo(resp), Log: quiet}
		if err := h.Finish(context.Background(), cmd("notify  #news   Deploy done\nall green")); err != nil {
			t.Fatal(err)
		}
		if len(post.Msgs) != 1 || post.Msgs[0].Channel != "C0NEWS0001" {
			t.Fatalf("posted %+v", post.Msgs)
		}
		if got := post.Msgs[0].Text; !strings.HasPrefix(got, "Deploy done\nall green\n") || !strings.Contains(got, "<@U0123>") {
			t.Fatalf("posted text %q: want the user's text as typed and who asked", got)
		}
		if len(resp.Msgs) != 1 || !strings.Contains(resp.Msgs[0].Text, "<#C0NEWS0001>") {
			t.Fatalf("confirmation %+v", resp.Msgs)
		}
	})
	t.Run("notify error in words", func(t *testing.T) {
		post := &recorder{Err: &notify.Error{Code: "not_in_channel", Hint: "Invite me first."}}
		resp := &recorder{}
		h := &Handler{Post: post, Permit: anyone, Respond: respondTo(resp), Log: quiet}
		h.Finish(context.Background(), cmd("notify #news hi"))
		if len(resp.Msgs) != 1 || !strings.Contains(resp.Msgs[0].Text, "Invite me first.") {
			t.Fatalf("answer %+v", resp.Msgs)
		}
	})
	t.Run("latency report", func(t *testing.T) {
		rep, resp := &reports{}, &recorder{}
		h := &Handler{Reports: rep, ParseRequest: latency.RequestParser(testSources), DefaultWindow: time.Hour, Respond: respondTo(resp), Log: quiet}
		h.Finish(context.Background(), cmd("latency 24h POST /slack/events"))
		if rep.req != (latency.Request{Window: 24 * time.Hour, Route: "POST /slack/events"}) {
			t.Fatalf("report(%+v)", rep.req)
		}
		if len(resp.Msgs) != 1 || resp.Msgs[0].Text != "the report" {
			t.Fatalf("answer %+v", resp.Msgs)
		}
	})
	t.Run("without a deferrer the answer carries the result", func(t *testing.T) {
		h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Post: &recorder{}, Permit: anyone, Log: quiet}
		_, a, _ := serve(t, h, signed(form("notify C0NEWS0001 hi")))
		if !strings.Contains(a.Text, "Posted to <#C0NEWS0001>") {
			t.Fatalf("answer %q", a.Text)
		}
	})
}

// TestInvokeDispatch: the commands function's entry point runs sealed
// commands and answers API Gateway's requests by route.
func TestInvokeDispatch(t *testing.T) {
	resp := &recorder{}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Post: &recorder{}, Permit: anyone, Respond: respondTo(resp), Log: quiet}
	fn := function(h, &dedupe.Memory{})
	c, _ := Parse([]byte(form("notify #news hi")))
	raw := seal(t, c)
	if _, err := fn.Invoke(context.Background(), raw); err != nil || len(resp.Msgs) != 1 {
		t.Fatalf("deferred: err %v, %d answers", err, len(resp.Msgs))
	}
	req := signed(form("help"))
	req.Resource = contract.CommandsPath
	raw, _ = json.Marshal(req)
	out, err := fn.Invoke(context.Background(), raw)
	if r, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || r.StatusCode != 200 {
		t.Fatalf("proxy request: %v %#v", err, out)
	}
	req.Resource = "/elsewhere"
	raw, _ = json.Marshal(req)
	out, err = fn.Invoke(context.Background(), raw)
	if r, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || r.StatusCode != 404 || !strings.Contains(r.Body, `"error"`) {
		t.Fatalf("request for another route: %v %#v; want a 404 {\"error\"}", err, out)
	}
	if _, err := fn.Invoke(context.Background(), json.RawMessage(`{"hello":1}`)); err == nil {
		t.Fatal("an unknown event was accepted")
	}
}

// function is the commands function's entry point around h, as wired in
// functions/commands, with sealing keyed by the test secret.
func function(h *Handler, claims dedupe.Store) deferred.Function {
	r := &deferred.Runner{Sealer: deferred.NewSealer(secret), Claims: claims, Log: quiet}
	r.On(Kind, h.FinishJob)
	return deferred.Function{Routes: map[string]deferred.ProxyHandler{contract.CommandsPath: h.ServeCommand}, Runner: r}
}

// seal is c sealed as the commands function sends it to itself.
func seal(t *testing.T, c slack.SlashCommand) json.RawMessage {
	t.Helper()
	body, _ := json.Marshal(c)
	sealed, err := deferred.NewSealer(secret).Seal(deferred.Job{Kind: Kind, ID: c.TriggerID, Body: body}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]deferred.Sealed{deferred.Key: sealed})
	return raw
}

func TestCutWords(t *testing.T) {
	tests := []struct {
		text  string
		n     int
		words []string
		rest  string
	}{
		{"notify #a hello world", 2, []string{"notify", "#a"}, "hello world"},
		{"  notify\t#a\n line1\n  line2 ", 2, []string{"notify", "#a"}, "line1\n  line2"},
		{"echo", 1, []string{"echo"}, ""},
		{"", 2, nil, ""},
	}
	for _, tt := range tests {
		words, rest := cutWords(tt.text, tt.n)
		if strings.Join(words, "|") != strings.Join(tt.words, "|") || rest != tt.rest {
			t.Errorf("cutWords(%q, %d) = %q, %q; want %q, %q", tt.text, tt.n, words, rest, tt.words, tt.rest)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(form("help"))
	f.Add(form("notify #general hi there"))
	f.Add("command=%2Fslackbot&user_id=U1&text=echo+%F0%9F%8E%89")
	f.Add("%zz")
	f.Add("a=1&a=2;b")
	f.Fuzz(func(t *testing.T, body string) {
		cmd, err := Parse([]byte(body))
		if err != nil {
			return
		}
		if cmd.Command == "" || cmd.UserID == "" {
			t.Fatalf("Parse accepted %q without command or user_id", body)
		}
		// Every accepted command gets an answer without panicking.
		h := &Handler{Post: &recorder{}, Permit: anyone, Reports: &reports{}, ParseRequest: latency.RequestParser(testSources), Later: &deferrer{}, Log: quiet}
		if a := h.answer(context.Background(), cmd); a == nil || a.Text == "" {
			t.Fatalf("no answer for %q", cmd.Text)
		}
	})
}

// TestRegistry: help is made from the registry, an added subcommand is
// answered and listed once, and one added under a built-in name replaces it.
func TestRegistry(t *testing.T) {
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Later: &deferrer{}, Log: quiet}
	h.Add(Subcommand{Name: "echo", Usage: "<words>", Summary: "mine now",
		Quick: func(context.Context, slack.SlashCommand) notify.Message { return Text("my echo") }})
	h.Add(Subcommand{Name: "deploy", Summary: "deploy it",
		Slow: func(context.Context, slack.SlashCommand) notify.Message { return Text("deployed") }})
	_, a, _ := serve(t, h, signed(form("help")))
	for _, want := range []string{"`/slackbot echo <words>` — mine now", "`/slackbot deploy` — deploy it", "`/slackbot notify <#channel> <text>`"} {
		if !strings.Contains(a.Text, want) {
			t.Errorf("help %q lacks %q", a.Text, want)
		}
	}
	if strings.Count(a.Text, "echo") != 1 {
		t.Errorf("help lists echo %d times: %q", strings.Count(a.Text, "echo"), a.Text)
	}
	if _, a, _ := serve(t, h, signed(form("ECHO hi"))); a.Text != "my echo" {
		t.Errorf("echo answered %q, want the added one", a.Text)
	}
	if _, a, _ := serve(t, h, signed(form("deploy"))); a.Text != "Working on it…" {
		t.Errorf("a slow subcommand without Check acknowledged %q", a.Text)
	}
	h.Later = nil
	if _, a, _ := serve(t, h, signed(form("deploy"))); a.Text != "deployed" {
		t.Errorf("without Later the answer is %q, want the result", a.Text)
	}
}

// charter is a Charter that records what it was asked for.
type charter struct {
	req   latency.Request
	calls int
	png   []byte // nil: no requests to draw
	err   error
}

func (c *charter) Chart(_ context.Context, source string, window time.Duration, route string) ([]byte, string, error) {
	c.req, c.calls = latency.Request{Source: source, Window: window, Route: route}, c.calls+1
	return c.png, "Latency of all routes", c.err
}

// uploader is a notify.Uploader that keeps what it was given, or fails.
type uploader struct {
	files []notify.File
	err   error
}

func (u *uploader) Upload(_ context.Context, f notify.File) error {
	if u.err != nil {
		return u.err
	}
	u.files = append(u.files, f)
	return nil
}

// TestLatencyChart: a trailing `chart` is deferred like the report, draws
// the window and route asked for, and shares the PNG in the channel the
// command was typed in; help shows the word.
func TestLatencyChart(t *testing.T) {
	png := []byte("\x89PNG fake")
	newHandler := func(ch *charter, up *uploader, resp *recorder) (*Handler, *deferrer) {
		d := &deferrer{}
		h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Reports: &reports{}, Charts: ch, Upload: up, Permit: inHere,
			ParseRequest: latency.RequestParser(testSources), DefaultWindow: time.Hour, Later: d, Respond: respondTo(resp), Log: quiet}
		return h, d
	}

	_, a, _ := serve(t, &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}, signed(form("help")))
	if !strings.Contains(a.Text, "`/slackbot latency [source] [window] [route] [chart]`") {
		t.Errorf("help %q does not show latency's chart word", a.Text)
	}

	for _, c := range []struct {
		text   string
		source string
		window time.Duration
		route  string
	}{
		{"latency 15m POST /slack/events chart", "", 15 * time.Minute, "POST /slack/events"},
		{"latency CHART", "", time.Hour, ""},
		{"latency events chart", "", time.Hour, "events"},
		{"latency orders 24h GET /orders chart", "orders", 24 * time.Hour, "GET /orders"},
	} {
		t.Run(c.text, func(t *testing.T) {
			ch, up, resp := &charter{png: png}, &uploader{}, &recorder{}
			h, d := newHandler(ch, up, resp)
			_, a, _ := serve(t, h, signed(form(c.text)))
			if a.Text != "Drawing the latency chart…" || len(d.cmds) != 1 || ch.calls != 0 {
				t.Fatalf("acknowledged %q with %d deferred and %d charts drawn; want the chart deferred", a.Text, len(d.cmds), ch.calls)
			}
			if err := h.Finish(context.Background(), d.cmds[0].(slack.SlashCommand)); err != nil {
				t.Fatal(err)
			}
			if want := (latency.Request{Source: c.source, Window: c.window, Route: c.route}); ch.req != want {
				t.Errorf("drew %+v, want %+v", ch.req, want)
			}
			if len(up.files) != 1 || up.files[0].Channel != "C0123ABCD" || string(up.files[0].Data) != string(png) || up.files[0].Name != "latency.png" {
				t.Fatalf("uploads %+v: want the PNG once, in the command's channel C0123ABCD", up.files)
			}
			if len(resp.Msgs) != 1 || !strings.Contains(resp.Msgs[0].Text, "Shared the latency chart") {
				t.Fatalf("answer %+v", resp.Msgs)
			}
		})
	}

	t.Run("without chart it is the report", func(t *testing.T) {
		ch, up, resp := &charter{png: png}, &uploader{}, &recorder{}
		h, _ := newHandler(ch, up, resp)
		h.Finish(context.Background(), command(t, "latency 1h events"))
		if ch.calls != 0 || len(up.files) != 0 || len(resp.Msgs) != 1 || resp.Msgs[0].Text != "the report" {
			t.Fatalf("%d charts, %d uploads, answer %+v: want only the report", ch.calls, len(up.files), resp.Msgs)
		}
	})
	t.Run("nothing to draw", func(t *testing.T) {
		ch, up, resp := &charter{}, &uploader{}, &recorder{}
		h, _ := newHandler(ch, up, resp)
		h.Finish(context.Background(), command(t, "latency 15m events chart"))
		if len(up.files) != 0 || len(resp.Msgs) != 1 || !strings.Contains(resp.Msgs[0].Text, "no requests of `events` in the last 15m") {
			t.Fatalf("%d uploads, answer %+v: want no upload and a sentence", len(up.files), resp.Msgs)
		}
	})
	for name, h := range map[string]*Handler{
		"no charter":  {Reports: &reports{}, Upload: &uploader{}},
		"no uploader": {Reports: &reports{}, Charts: &charter{png: png}},
	} {
		t.Run(name, func(t *testing.T) {
			d := &deferrer{}
			h.Verifier, h.ParseRequest, h.Later, h.Log = verify.Verifier{SigningSecret: secret}, latency.RequestParser(testSources), d, quiet
			_, a, _ := serve(t, h, signed(form("latency 1h chart")))
			if !strings.Contains(a.Text, "can't share charts here") || len(d.cmds) != 0 {
				t.Fatalf("answer %q, %d deferred: want a refusal in words, nothing deferred", a.Text, len(d.cmds))
			}
		})
	}
}

// TestLatencyArguments: `latency [source] [window] [route] [chart]` with the
// sources the handler knows; `latency sources` lists them.
func TestLatencyArguments(t *testing.T) {
	for _, c := range []struct {
		text string
		want latency.Request
		ack  string // "" for the report's
	}{
		{"latency", latency.Request{Window: time.Hour}, ""},
		{"latency orders", latency.Request{Source: "orders", Window: time.Hour}, ""},
		{"latency workers 15m billing", latency.Request{Source: "workers", Window: 15 * time.Minute, Route: "billing"}, ""},
		{"latency workers billing init", latency.Request{Source: "workers", Window: time.Hour, Route: "billing init"}, ""},
		{"latency slackbot 7d events", latency.Request{Source: "slackbot", Window: 7 * 24 * time.Hour, Route: "events"}, ""},
		{"latency 1h orders", latency.Request{Window: time.Hour, Route: "orders"}, ""},
		{"latency billing", latency.Request{Window: time.Hour, Route: "billing"}, ""},
		{"latency sources", latency.Request{ListSources: true}, "Listing the latency sources…"},
	} {
		t.Run(c.text, func(t *testing.T) {
			rep, d, resp := &reports{}, &deferrer{}, &recorder{}
			h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Reports: rep, ParseRequest: latency.RequestParser(testSources),
				DefaultWindow: time.Hour, Later: d, Respond: respondTo(resp), Log: quiet}
			_, a, _ := serve(t, h, signed(form(c.text)))
			if want := cmp.Or(c.ack, "Building the latency report…"); a.Text != want || len(d.cmds) != 1 {
				t.Fatalf("acknowledged %q with %d deferred, want %q", a.Text, len(d.cmds), want)
			}
			if err := h.Finish(context.Background(), d.cmds[0].(slack.SlashCommand)); err != nil {
				t.Fatal(err)
			}
			if rep.req != c.want {
				t.Errorf("asked for %+v, want %+v", rep.req, c.want)
			}
		})
	}
	// The list has no chart, and a bad window after a source is refused
	// before anything is deferred.
	for text, want := range map[string]string{
		"latency sources chart": "`latency sources` lists the sources",
		"latency orders 2x":     `"2x"`,
	} {
		d := &deferrer{}
		h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Reports: &reports{}, ParseRequest: latency.RequestParser(testSources),
			DefaultWindow: time.Hour, Later: d, Log: quiet}
		_, a, _ := serve(t, h, signed(form(text)))
		if !strings.Contains(a.Text, want) || len(d.cmds) != 0 {
			t.Errorf("%q: answered %q with %d deferred, want a refusal saying %s", text, a.Text, len(d.cmds), want)
		}
	}
}
