package slash

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

// chartIn finishes `latency 1h chart` typed by user in channel, and returns
// the answer.
func chartIn(t *testing.T, h *Handler, user, channel string) string {
	t.Helper()
	resp := &recorder{}
	h.Respond = respondTo(resp)
	c := command(t, "latency 1h chart")
	c.UserID, c.ChannelID = user, channel
	if err := h.Finish(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(resp.Msgs) != 1 {
		t.Fatalf("%d answers, want 1", len(resp.Msgs))
	}
	return resp.Msgs[0].Text
}

// TestChartFollowsThePolicy: a chart is a file shared as the bot, so it is
// shared only where notify could post for that user (the allow-lists and
// membership), and at most ChartsPerMinute times a minute per user.
func TestChartFollowsThePolicy(t *testing.T) {
	newHandler := func(policy *permit.Policy, up *uploader) *Handler {
		return &Handler{Reports: &reports{}, Charts: &charter{png: []byte("png")}, Upload: up, Permit: policy,
			ParseRequest: latency.RequestParser(testSources), DefaultWindow: time.Hour, Log: quiet}
	}
	refusals := []struct {
		name          string
		policy        *permit.Policy
		user, channel string
	}{
		{"not a member", &permit.Policy{Dir: workspace{}}, "U0123", "G0SECRET01"},
		{"not on the users list", &permit.Policy{Users: []string{"U0BOSS"}, Dir: workspace{}}, "U0123", "C0NEWS0001"},
		{"channel not on the list", &permit.Policy{Channels: []string{"#secret"}, Dir: workspace{}}, "U0123", "C0NEWS0001"},
		{"a direct message", &permit.Policy{Dir: workspace{}}, "U0123", "D0123ABCD"},
		{"no policy", nil, "U0123", "C0NEWS0001"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			up := &uploader{}
			got := chartIn(t, newHandler(tt.policy, up), tt.user, tt.channel)
			if got != permit.ErrRefused.Error() || len(up.files) != 0 {
				t.Fatalf("answer %q, %d uploads: want notify's refusal and no upload", got, len(up.files))
			}
		})
	}

	t.Run("rate limited", func(t *testing.T) {
		now := time.Now()
		up := &uploader{}
		h := newHandler(&permit.Policy{Dir: workspace{}}, up)
		h.ChartClaims = &dedupe.Memory{Lease: ChartWindow, Now: func() time.Time { return now }}
		for i := range ChartsPerMinute {
			if got := chartIn(t, h, "U0123", "C0NEWS0001"); !strings.Contains(got, "Shared the latency chart") {
				t.Fatalf("chart %d: %q", i+1, got)
			}
		}
		got := chartIn(t, h, "U0123", "C0NEWS0001")
		if !strings.Contains(got, "try again in a minute") || len(up.files) != ChartsPerMinute {
			t.Fatalf("chart %d in a minute: %q, %d uploads; want a refusal and %d uploads", ChartsPerMinute+1, got, len(up.files), ChartsPerMinute)
		}
		now = now.Add(ChartWindow + time.Second)
		if got := chartIn(t, h, "U0123", "C0NEWS0001"); !strings.Contains(got, "Shared the latency chart") {
			t.Fatalf("a minute later: %q", got)
		}
	})
}

// TestChartLimitAcrossContainers: the limit holds across containers. Three
// handlers, as three containers, share the dedupe table (on moto); one
// user's eight charts asked of them in turn share three.
func TestChartLimitAcrossContainers(t *testing.T) {
	testenv.SkipShort(t, "moto")
	db, table := moto.Get(t).DedupeTable(t)
	up := &uploader{}
	var containers []*Handler
	for range 3 {
		containers = append(containers, &Handler{Reports: &reports{}, Charts: &charter{png: []byte("png")}, Upload: up,
			Permit: &permit.Policy{Dir: workspace{}}, ParseRequest: latency.RequestParser(testSources), DefaultWindow: time.Hour, Log: quiet,
			ChartClaims: &dedupe.Dynamo{Client: db, Table: table, Lease: ChartWindow}})
	}
	refused := 0
	for i := range 8 {
		if strings.Contains(chartIn(t, containers[i%3], "U0123", "C0NEWS0001"), "try again in a minute") {
			refused++
		}
	}
	if len(up.files) != ChartsPerMinute || refused != 8-ChartsPerMinute {
		t.Fatalf("%d uploads, %d refusals; want %d and %d", len(up.files), refused, ChartsPerMinute, 8-ChartsPerMinute)
	}
	for i := range ChartsPerMinute {
		if testenv.DedupeItem(t, db, table, fmt.Sprintf("chart/U0123/%d", i)) == nil {
			t.Errorf("no claim chart/U0123/%d in the table", i)
		}
	}
}

// TestDeferredCommandCarriesNoToken: the job a command defers holds what
// the work needs and no credential: the legacy verification token, which
// Slack sends in every command's form, is not in it.
func TestDeferredCommandCarriesNoToken(t *testing.T) {
	send := &sendTo{}
	r := &deferred.Runner{Sealer: deferred.NewSealer(secret), Send: send, Log: quiet}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Permit: anyone, Log: quiet}
	r.On(Kind, h.FinishJob)
	h.Later = r
	_, a, _ := serve(t, h, signed(form("notify #news hi")))
	if len(send.sealed) != 1 {
		t.Fatalf("answer %q, %d jobs: want one deferred", a.Text, len(send.sealed))
	}
	job, err := r.Sealer.Open(send.sealed[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var cmd slack.SlashCommand
	if err := json.Unmarshal(job.Body, &cmd); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(job.Body), "legacy-token") || cmd.Token != "" {
		t.Errorf("the deferred job carries the verification token: %s", job.Body)
	}
	if cmd.Text != "notify #news hi" || cmd.ResponseURL == "" || cmd.UserID != "U0123" {
		t.Errorf("the deferred job lacks what the work needs: %s", job.Body)
	}
}

// sendTo is a deferred.Sender that keeps what it is given.
type sendTo struct{ sealed []deferred.Sealed }

func (s *sendTo) Send(_ context.Context, d deferred.Sealed) error {
	s.sealed = append(s.sealed, d)
	return nil
}
