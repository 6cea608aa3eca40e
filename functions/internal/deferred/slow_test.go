package deferred_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

// TestJobNeverRunsTwiceWhenSlackHangs: a deferred job whose answer Slack
// takes and never answers is done, once. It stops short of the
// invocation's deadline, its claim (in DynamoDB, on moto) is marked done
// on a context of its own, and a redelivery after the claim's lease has
// run out finds it done and posts nothing.
func TestJobNeverRunsTwiceWhenSlackHangs(t *testing.T) {
	testenv.SkipShort(t, "moto")
	db, table := moto.Get(t).DedupeTable(t)
	slackSrv := testenv.NewSlack(t, "xoxb-unused", nil)
	slackSrv.SetMode(testenv.Swallow, testenv.MethodResponseURL)
	claims := &dedupe.Dynamo{Client: db, Table: table, Lease: time.Second}
	send := &sendTo{}
	r := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Send: send, Claims: claims,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	r.On("answer", func(ctx context.Context, body json.RawMessage) error {
		var text string
		if err := json.Unmarshal(body, &text); err != nil {
			return err
		}
		_, err := (&notify.Webhook{URL: slackSrv.ResponseURL()}).Post(ctx, notify.Message{Text: text})
		return err
	})
	if err := r.Later(context.Background(), "answer", "1700000000.1", "the report"); err != nil {
		t.Fatal(err)
	}
	// Lambda delivers the job, then (its lease long over) again.
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
		err := r.Run(ctx, send.sealed[0])
		cancel()
		if err != nil {
			t.Errorf("run %d: %v; want nil: an answer Slack took is delivered", i, err)
		}
		time.Sleep(1500 * time.Millisecond) // past the lease
	}
	if n := len(slackSrv.Responses()); n != 1 {
		t.Errorf("Slack got the answer %d times, want once", n)
	}
	it := testenv.DedupeItem(t, db, table, "deferred/1700000000.1")
	if st, ok := it["state"].(*types.AttributeValueMemberS); !ok || st.Value != "done" {
		t.Errorf("the job's claim is %v, want done", it)
	}
}

// TestSealedJobIsSecret: what a job carries, such as a response_url and
// the user's text, is not readable in the sealed job, which may sit in the
// failure queue for days.
func TestSealedJobIsSecret(t *testing.T) {
	send := &sendTo{}
	r := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Send: send, Log: quiet}
	r.On("k", func(context.Context, json.RawMessage) error { return nil })
	body := map[string]string{"response_url": "https://hooks.slack.com/commands/T1/2/abc", "text": "notify #ops the launch code"}
	if err := r.Later(context.Background(), "k", "1.2", body); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(send.sealed[0])
	box, err := base64.StdEncoding.DecodeString(send.sealed[0].Box)
	if err != nil {
		t.Fatalf("box is not base64: %v", err)
	}
	for _, secret := range []string{"hooks.slack.com", "launch code", "response_url"} {
		if bytes.Contains(raw, []byte(secret)) || bytes.Contains(box, []byte(secret)) {
			t.Errorf("the sealed job shows %q: %s", secret, raw)
		}
	}
	job, err := r.Sealer.Open(send.sealed[0], time.Now())
	if err != nil || !strings.Contains(string(job.Body), "launch code") {
		t.Fatalf("Open = %s, %v; want the job back", job.Body, err)
	}
}

// BenchmarkSealOpen is what sealing costs a deferred command: one Seal on
// the request's path and one Open in the job's invocation.
func BenchmarkSealOpen(b *testing.B) {
	s := deferred.NewSealer("secret")
	body, _ := json.Marshal(map[string]string{"response_url": "https://hooks.slack.com/commands/T1/2/abc", "text": "notify #ops deploy done"})
	job := deferred.Job{Kind: "command", ID: "1700000000.123", Body: body}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sealed, err := s.Seal(job, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open(sealed, now); err != nil {
			b.Fatal(err)
		}
	}
}
