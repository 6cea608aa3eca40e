package slash

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

func command(t *testing.T, text string) slack.SlashCommand {
	t.Helper()
	c, err := Parse([]byte(form(text)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEscapesWhatUsersWrote sends the hostile strings through every place
// the commands handler repeats a user's text.
func TestEscapesWhatUsersWrote(t *testing.T) {
	post, resp := &recorder{}, &recorder{}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Post: post, Permit: anyone,
		Respond: respondTo(resp), Later: &deferrer{}, Log: quiet}

	for _, text := range []string{
		"echo " + testenv.HostileText,
		testenv.Hostile[0] + " now",            // an unknown subcommand is repeated
		"notify " + testenv.Hostile[4] + " hi", // the acknowledgement repeats the channel
	} {
		_, a, _ := serve(t, h, signed(form(text)))
		testenv.NoRawMarkup(t, "answer text to "+text, a.Text)
		testenv.NoRawMarkupIn(t, "answer blocks to "+text, a.Blocks)
	}

	if err := h.Finish(context.Background(), command(t, "notify #news "+testenv.HostileText)); err != nil {
		t.Fatal(err)
	}
	if len(post.Msgs) != 1 {
		t.Fatalf("%d posts, want 1", len(post.Msgs))
	}
	testenv.NoRawMarkup(t, "notify post", post.Msgs[0].Text)
	if !strings.Contains(post.Msgs[0].Text, "&lt;!channel&gt;") || !strings.Contains(post.Msgs[0].Text, "<@U0123>") {
		t.Errorf("notify post %q: want the text escaped and who sent it mentioned", post.Msgs[0].Text)
	}

	// A form whose user_id is not an ID is shown, not turned into markup.
	c := command(t, "echo hi")
	c.UserID, c.UserName = "U1>|<!channel", "<!here>"
	m := echo(c)
	testenv.NoRawMarkup(t, "echo of a strange user", m.Text)
	testenv.NoRawMarkupIn(t, "echo blocks of a strange user", m.Blocks)
}

// TestNotifyAuthorization: a refused notify posts nothing and answers the
// same words whether the channel is missing, private or just not the user's.
func TestNotifyAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		policy *permit.Policy
		text   string
		posts  int
	}{
		{"member of the channel", anyone, "notify #news hi", 1},
		{"not a member", anyone, "notify #secret hi", 0},
		{"no such channel", anyone, "notify #nope hi", 0},
		{"private channel by ID", anyone, "notify G0SECRET01 hi", 0},
		{"not on the user allow-list", &permit.Policy{Users: []string{"U0OTHER"}, Dir: workspace{}}, "notify #news hi", 0},
		{"not on the channel allow-list", &permit.Policy{Channels: []string{"#secret"}, Dir: workspace{}}, "notify #news hi", 0},
		{"on both allow-lists", &permit.Policy{Users: []string{"U0123"}, Channels: []string{"C0NEWS0001"}, Dir: workspace{}}, "notify #news hi", 1},
		{"no policy", nil, "notify #news hi", 0},
	}
	var refusals []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			post, resp := &recorder{}, &recorder{}
			h := &Handler{Post: post, Permit: tt.policy, Respond: respondTo(resp), Log: quiet}
			if err := h.Finish(context.Background(), command(t, tt.text)); err != nil {
				t.Fatal(err)
			}
			if len(post.Msgs) != tt.posts {
				t.Fatalf("%d posts, want %d", len(post.Msgs), tt.posts)
			}
			if len(resp.Msgs) != 1 {
				t.Fatalf("%d answers, want 1", len(resp.Msgs))
			}
			if tt.posts == 0 {
				refusals = append(refusals, resp.Msgs[0].Text)
			}
		})
	}
	for _, r := range refusals {
		if r != refusals[0] {
			t.Errorf("refusals differ, which tells what exists: %q vs %q", r, refusals[0])
		}
		if strings.Contains(r, "find") || strings.Contains(r, "#") {
			t.Errorf("refusal %q speaks of the channel", r)
		}
	}
}

func TestSSLCheck(t *testing.T) {
	post := &recorder{}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Post: post, Permit: anyone, Log: quiet}
	// Slack's check is unsigned and carries only ssl_check and the token.
	req := signed("ssl_check=1&token=legacy-token")
	req.Headers = nil
	status, _, body := serve(t, h, req)
	if status != 200 || body != "" || len(post.Msgs) != 0 {
		t.Fatalf("ssl_check: %d %q, %d posts; want an empty 200 and no work", status, body, len(post.Msgs))
	}
}

// TestDeferFailureRunsNow: when the deferred invocation cannot be sent, the
// work runs before the answer, which then carries the result rather than a
// promise of work that will not happen.
func TestDeferFailureRunsNow(t *testing.T) {
	post := &recorder{}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Post: post, Permit: anyone,
		Later: &deferrer{err: errors.New("AccessDenied")}, Log: quiet}
	_, a, _ := serve(t, h, signed(form("notify #news Deploy done")))
	if len(post.Msgs) != 1 {
		t.Fatalf("%d posts, want the notify posted inline", len(post.Msgs))
	}
	if strings.Contains(a.Text, "Posting to") || !strings.Contains(a.Text, "Posted to <#C0NEWS0001>") {
		t.Fatalf("answer %q: want the result, not the acknowledgement", a.Text)
	}
}

// TestUserErrorHidesInternals: the user is told what they can act on, never
// the text of an internal error.
func TestUserErrorHidesInternals(t *testing.T) {
	internal := errors.New("dial tcp 10.1.2.3:443: i/o timeout; table arn:aws:dynamodb:secret")
	post, resp := &recorder{Err: internal}, &recorder{}
	h := &Handler{Post: post, Permit: anyone, Respond: respondTo(resp), Log: quiet}
	h.Finish(context.Background(), command(t, "notify #news hi"))
	if len(resp.Msgs) != 1 {
		t.Fatalf("%d answers", len(resp.Msgs))
	}
	got := resp.Msgs[0].Text
	for _, leak := range []string{"10.1.2.3", "dial tcp", "arn:aws"} {
		if strings.Contains(got, leak) {
			t.Errorf("answer %q leaks %q", got, leak)
		}
	}
	if !strings.Contains(got, "logs") {
		t.Errorf("answer %q does not say where the details are", got)
	}
	for _, err := range []error{internal, context.Canceled, errors.New("x")} {
		if u := UserError(err); strings.Contains(u, err.Error()) {
			t.Errorf("UserError(%v) = %q repeats the error", err, u)
		}
	}
}

// TestSealer: a sealed command opens only intact, under this app's key,
// before it expires.
func TestSealer(t *testing.T) {
	s := deferred.NewSealer(secret)
	now := time.Now()
	c := command(t, "notify #news hi")
	body, _ := json.Marshal(c)
	job := deferred.Job{Kind: Kind, ID: c.TriggerID, Body: body}
	sealed, err := s.Seal(job, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(sealed, now.Add(time.Minute))
	var back slack.SlashCommand
	if err == nil {
		err = json.Unmarshal(got.Body, &back)
	}
	if err != nil || got.ID != c.TriggerID || back.TriggerID != c.TriggerID || back.Text != c.Text {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	box, _ := base64.StdEncoding.DecodeString(sealed.Box)
	flip := func(i int) deferred.Sealed {
		b := bytes.Clone(box)
		b[i] ^= 1
		return deferred.Sealed{Box: base64.StdEncoding.EncodeToString(b)}
	}
	for name, d := range map[string]deferred.Sealed{
		"tampered nonce":       flip(0),
		"tampered job":         flip(len(box) / 2),
		"tampered tag":         flip(len(box) - 1),
		"empty":                {},
		"not base64":           {Box: "!!"},
		"cut short":            {Box: base64.StdEncoding.EncodeToString(box[:8])},
		"another app's secret": must(deferred.NewSealer("another-secret").Seal(job, now)),
	} {
		if _, err := s.Open(d, now); !errors.Is(err, deferred.ErrBadMAC) {
			t.Errorf("%s: Open = %v, want ErrBadMAC", name, err)
		}
	}
	if _, err := s.Open(sealed, now.Add(deferred.TTL)); !errors.Is(err, deferred.ErrExpired) {
		t.Errorf("Open after TTL = %v, want ErrExpired", err)
	}
	if _, err := (deferred.Sealer{}).Open(sealed, now); !errors.Is(err, deferred.ErrBadMAC) {
		t.Errorf("a Sealer without a key opened a payload: %v", err)
	}
}

func must(d deferred.Sealed, err error) deferred.Sealed {
	if err != nil {
		panic(err)
	}
	return d
}

func must2(_, sig string) string { return sig }

// TestRunDeferredExactlyOnce: Lambda may deliver the asynchronous event
// twice; the second posts nothing. A forged or expired one posts nothing
// and is an error, which Lambda sends to the on-failure queue.
func TestRunDeferredExactlyOnce(t *testing.T) {
	post, resp := &recorder{}, &recorder{}
	h := &Handler{Post: post, Permit: anyone, Respond: respondTo(resp), Log: quiet}
	fn := function(h, &dedupe.Memory{})
	raw := seal(t, command(t, "notify #news hi"))
	for i := range 3 {
		if _, err := fn.Invoke(context.Background(), raw); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if len(post.Msgs) != 1 || len(resp.Msgs) != 1 {
		t.Fatalf("3 deliveries: %d posts, %d answers; want 1 and 1", len(post.Msgs), len(resp.Msgs))
	}

	var sealed map[string]deferred.Sealed
	if err := json.Unmarshal(raw, &sealed); err != nil {
		t.Fatal(err)
	}
	box, _ := base64.StdEncoding.DecodeString(sealed[deferred.Key].Box)
	box[len(box)/2] ^= 1
	forged, _ := json.Marshal(map[string]deferred.Sealed{deferred.Key: {Box: base64.StdEncoding.EncodeToString(box)}})
	if _, err := fn.Invoke(context.Background(), forged); !errors.Is(err, deferred.ErrBadMAC) {
		t.Fatalf("forged delivery: %v, want ErrBadMAC", err)
	}
	if len(post.Msgs) != 1 {
		t.Fatalf("a forged delivery posted")
	}
}

// TestFinishOnlyAnswersSlack: a response_url elsewhere than Slack's host
// (or SLACK_API_URL's, set for local runs and tests) gets nothing, and the
// notify it carries is not posted either.
func TestFinishOnlyAnswersSlack(t *testing.T) {
	var answered int
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		answered++
		w.Write([]byte("ok"))
	}))
	defer local.Close()
	for _, tt := range []struct {
		url, apiURL string
		ok          bool
	}{
		{local.URL + "/response_url", local.URL + "/api/", true},
		{local.URL + "/response_url", "", false},
		{"https://evil.example/collect", local.URL + "/api/", false},
		{"http://169.254.169.254/latest/meta-data", "", false},
	} {
		answered = 0
		post := &recorder{}
		h := &Handler{Post: post, Permit: anyone, APIURL: tt.apiURL, Log: quiet}
		c := command(t, "notify #news hi")
		c.ResponseURL = tt.url
		err := h.Finish(context.Background(), c)
		if (err == nil) != tt.ok || (answered == 1) != tt.ok || (len(post.Msgs) == 1) != tt.ok {
			t.Errorf("response_url %s (api %q): err %v, %d answers, %d posts; want ok=%v", tt.url, tt.apiURL, err, answered, len(post.Msgs), tt.ok)
		}
	}
}

var _ notify.Poster = (*recorder)(nil)

// TestChartStaysInItsChannel: `chart` cannot be pointed at another channel.
// A word after it is refused before anything is deferred, and a command
// that reaches the slow half anyway (a sealed job) draws and uploads
// nothing; otherwise the only destination is the form's channel_id.
func TestChartStaysInItsChannel(t *testing.T) {
	for _, text := range []string{
		"latency 1h chart #secret",
		"latency chart <#G0SECRET01|secret>",
		"latency 1h events chart C0NEWS0001",
		"latency chart chart",
	} {
		t.Run(text, func(t *testing.T) {
			ch, up, resp, d := &charter{png: []byte("png")}, &uploader{}, &recorder{}, &deferrer{}
			h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Reports: &reports{}, Charts: ch, Upload: up,
				ParseRequest: latency.RequestParser(testSources), DefaultWindow: time.Hour, Later: d, Respond: respondTo(resp), Log: quiet}
			_, a, _ := serve(t, h, signed(form(text)))
			if !strings.Contains(a.Text, "goes last and shares the chart in this channel only") || len(d.cmds) != 0 {
				t.Fatalf("answer %q, %d deferred: want a refusal, nothing deferred", a.Text, len(d.cmds))
			}
			h.Finish(context.Background(), command(t, text))
			if ch.calls != 0 || len(up.files) != 0 {
				t.Fatalf("%d charts drawn, uploads %+v: want none", ch.calls, up.files)
			}
		})
	}
	t.Run("no channel_id", func(t *testing.T) {
		up, resp := &uploader{}, &recorder{}
		h := &Handler{Reports: &reports{}, Charts: &charter{png: []byte("png")}, Upload: up,
			ParseRequest: latency.RequestParser(testSources), Respond: respondTo(resp), Log: quiet}
		c := command(t, "latency 1h chart")
		c.ChannelID = ""
		h.Finish(context.Background(), c)
		if len(up.files) != 0 || len(resp.Msgs) != 1 || !strings.Contains(resp.Msgs[0].Text, "which channel") {
			t.Fatalf("uploads %+v, answer %+v", up.files, resp.Msgs)
		}
	})
}

// TestChartFailuresInWords: a failed draw or upload is answered with what
// the user can act on, never the internal error, and the route the user
// typed is escaped wherever it is repeated.
func TestChartFailuresInWords(t *testing.T) {
	internal := errors.New("dial tcp 10.1.2.3:443: i/o timeout; table arn:aws:dynamodb:secret")
	run := func(ch *charter, up *uploader, text string) string {
		t.Helper()
		resp := &recorder{}
		h := &Handler{Reports: &reports{}, Charts: ch, Upload: up, ParseRequest: latency.RequestParser(testSources), Permit: inHere,
			DefaultWindow: time.Hour, Respond: respondTo(resp), Log: quiet}
		if err := h.Finish(context.Background(), command(t, text)); err != nil {
			t.Fatal(err)
		}
		if len(resp.Msgs) != 1 {
			t.Fatalf("%d answers", len(resp.Msgs))
		}
		return resp.Msgs[0].Text
	}
	for name, got := range map[string]string{
		"upload":  run(&charter{png: []byte("png")}, &uploader{err: internal}, "latency 1h chart"),
		"drawing": run(&charter{err: internal}, &uploader{}, "latency 1h chart"),
	} {
		for _, leak := range []string{"10.1.2.3", "dial tcp", "arn:aws"} {
			if strings.Contains(got, leak) {
				t.Errorf("%s failure: answer %q leaks %q", name, got, leak)
			}
		}
		if !strings.HasPrefix(got, "Couldn't") || !strings.Contains(got, "logs") {
			t.Errorf("%s failure: answer %q does not say it failed and where the details are", name, got)
		}
	}
	hint := &notify.Error{Code: "not_in_channel", Hint: "Invite me to the channel first."}
	if got := run(&charter{png: []byte("png")}, &uploader{err: hint}, "latency 1h chart"); !strings.Contains(got, hint.Hint) {
		t.Errorf("answer %q lacks what Slack said, in words", got)
	}

	up := &uploader{}
	for _, png := range [][]byte{nil, []byte("png")} {
		got := run(&charter{png: png}, up, "latency 1h "+testenv.HostileText+" chart")
		testenv.NoRawMarkup(t, "chart answer", got)
		if !strings.Contains(got, "&lt;!channel&gt;") {
			t.Errorf("answer %q does not show the route the user typed, escaped", got)
		}
	}
	if len(up.files) != 1 {
		t.Fatalf("%d uploads, want 1", len(up.files))
	}
	testenv.NoRawMarkup(t, "chart comment", up.files[0].Comment)
	if !strings.Contains(up.files[0].Comment, "<@U0123>") {
		t.Errorf("comment %q does not say who asked", up.files[0].Comment)
	}
}
