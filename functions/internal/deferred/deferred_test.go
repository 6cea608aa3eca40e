package deferred_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

var quiet = slog.New(slog.DiscardHandler)

// TestEmptySecretSealsNothing: without a secret there is no key anyone
// could not compute, so nothing is sealed and nothing opens, not even a job
// sealed with the key an empty secret would derive.
func TestEmptySecretSealsNothing(t *testing.T) {
	s := deferred.NewSealer("")
	now := time.Now()
	job := deferred.Job{Kind: "k", ID: "1.2", Body: json.RawMessage(`{}`)}
	if _, err := s.Seal(job, now); err == nil {
		t.Fatal("Seal without a secret succeeded")
	}
	// What NewSealer("") would derive if it derived a key: anyone can.
	k := hmac.New(sha256.New, nil)
	k.Write([]byte(deferred.KeyLabel))
	payload, _ := json.Marshal(map[string]any{"kind": "k", "id": "1.2", "body": map[string]any{}, "expires": now.Add(time.Minute).Unix()})
	block, _ := aes.NewCipher(k.Sum(nil))
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	forged := deferred.Sealed{Box: base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, payload, nil))}
	if _, err := s.Open(forged, now); !errors.Is(err, deferred.ErrBadMAC) {
		t.Fatalf("Open of a job forged with the empty secret's key: %v, want ErrBadMAC", err)
	}

	// Later then fails, so the caller does the work before answering.
	r := &deferred.Runner{Sealer: s, Send: deferred.Goroutine{}, Log: quiet}
	r.On("k", func(context.Context, json.RawMessage) error { return nil })
	if err := r.Later(context.Background(), "k", "1.2", struct{}{}); err == nil {
		t.Fatal("Later without a secret succeeded")
	}
}

// sendTo is a Sender that keeps what it is given.
type sendTo struct{ sealed []deferred.Sealed }

func (s *sendTo) Send(_ context.Context, d deferred.Sealed) error {
	s.sealed = append(s.sealed, d)
	return nil
}

// TestRunOnce: a job delivered twice runs once, a forged or unknown one
// not at all.
func TestRunOnce(t *testing.T) {
	send := &sendTo{}
	r := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Send: send, Claims: &dedupe.Memory{}, Log: quiet}
	var runs []string
	r.On("echo", func(_ context.Context, body json.RawMessage) error {
		runs = append(runs, string(body))
		return nil
	})
	if err := r.Later(context.Background(), "echo", "1.2", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := r.Later(context.Background(), "other", "1.3", "hi"); err == nil {
		t.Fatal("Later of a kind nobody runs succeeded")
	}
	if len(send.sealed) != 1 {
		t.Fatalf("%d jobs sent, want 1", len(send.sealed))
	}
	for range 2 { // Lambda may deliver an asynchronous event twice
		if err := r.Run(context.Background(), send.sealed[0]); err != nil {
			t.Fatal(err)
		}
	}
	if len(runs) != 1 || runs[0] != `"hi"` {
		t.Fatalf("runs %q, want the job once", runs)
	}
	box, _ := base64.StdEncoding.DecodeString(send.sealed[0].Box)
	box[len(box)/2] ^= 1
	forged := deferred.Sealed{Box: base64.StdEncoding.EncodeToString(box)}
	if err := r.Run(context.Background(), forged); !errors.Is(err, deferred.ErrBadMAC) {
		t.Fatalf("Run of a forged job: %v, want ErrBadMAC", err)
	}
}

// FuzzInvoke sends the function events of any shape: it answers or
// refuses, and never panics; an API Gateway request gets no 5xx of its own.
func FuzzInvoke(f *testing.F) {
	f.Add(`{"httpMethod":"POST","resource":"/ok","body":"x"}`)
	f.Add(`{"httpMethod":"POST","resource":"/nowhere"}`)
	f.Add(`{"slackbot_deferred":{"box":"AAAA"}}`)
	f.Add(`{"slackbot_deferred":null,"httpMethod":"GET"}`)
	f.Add(`{"slackbot_deferred":"x"}`)
	f.Add(`[]`)
	f.Add(`null`)
	r := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Claims: &dedupe.Memory{}, Log: quiet}
	r.On("echo", func(context.Context, json.RawMessage) error { return nil })
	fn := deferred.Function{
		Routes: map[string]deferred.ProxyHandler{"/ok": func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}},
		Runner: r,
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := fn.Invoke(context.Background(), json.RawMessage(raw))
		if resp, ok := out.(events.APIGatewayProxyResponse); ok && (err != nil || resp.StatusCode >= 500) {
			t.Fatalf("%s: status %d, %v", raw, resp.StatusCode, err)
		}
	})
}

// TestJobCarriesItsWorkspace: a job runs with the workspace of the
// request that deferred it, so it answers with that workspace's token.
func TestJobCarriesItsWorkspace(t *testing.T) {
	send := &sendTo{}
	r := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Send: send, Log: quiet}
	var got []workspace.Workspace
	r.On("k", func(ctx context.Context, _ json.RawMessage) error {
		w, _ := workspace.From(ctx)
		got = append(got, w)
		return nil
	})
	alpha := workspace.Workspace{TeamID: "T0ALPHA001", EnterpriseID: "E0ORG00001"}
	if err := r.Later(workspace.With(context.Background(), alpha), "k", "1.1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Later(context.Background(), "k", "1.2", struct{}{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range send.sealed {
		if err := r.Run(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0] != alpha || got[1] != (workspace.Workspace{}) {
		t.Errorf("jobs ran in workspaces %+v, want %+v then none", got, alpha)
	}
}
