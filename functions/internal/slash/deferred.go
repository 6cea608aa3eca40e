package slash

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
)

// Deferred is a command whose slow part runs after the acknowledgement: the
// event the commands function sends itself (under DeferredKey, by
// selfinvoke.Deferrer), or what a goroutine of the dev server runs.
//
// Anyone allowed to invoke the function could send such an event, and
// Lambda may deliver one twice, so it is sealed and claimed: Payload is the
// command and an expiry as JSON, MAC its HMAC-SHA256 under a key derived
// from the signing secret, and the command's trigger_id is claimed in the
// dedupe table before any work, so a second delivery posts nothing.
type Deferred struct {
	Payload string `json:"payload"`
	MAC     string `json:"mac"`
}

// DeferredKey is the JSON key of a Deferred in the function's event.
const DeferredKey = "slackbot_deferred"

// DeferredTTL is how long a sealed command may wait to run: as long as
// Slack accepts answers on its response_url.
const DeferredTTL = 30 * time.Minute

// sealed is what Payload holds.
type sealed struct {
	Command slack.SlashCommand `json:"command"`
	Expires int64              `json:"expires"` // Unix seconds
}

// Errors of Open. Neither says more than that the payload is refused.
var (
	ErrBadMAC  = errors.New("deferred command: MAC does not match; not sent by this app")
	ErrExpired = errors.New("deferred command: expired")
)

// Sealer seals and opens Deferred commands.
type Sealer struct {
	key []byte
}

// NewSealer derives the sealing key from the signing secret (or, in a
// legacy set-up, the verification token). Deriving it keeps a MAC of ours
// from ever being mistaken for a Slack signature, and the reverse.
func NewSealer(secret string) Sealer {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("slackbot deferred command v1"))
	return Sealer{key: mac.Sum(nil)}
}

func (s Sealer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Seal wraps cmd to run before now+DeferredTTL.
func (s Sealer) Seal(cmd slack.SlashCommand, now time.Time) (Deferred, error) {
	b, err := json.Marshal(sealed{Command: cmd, Expires: now.Add(DeferredTTL).Unix()})
	if err != nil {
		return Deferred{}, fmt.Errorf("seal deferred command: %w", err)
	}
	return Deferred{Payload: string(b), MAC: hex.EncodeToString(s.mac(string(b)))}, nil
}

// Open returns the command of d if its MAC holds and it has not expired.
func (s Sealer) Open(d Deferred, now time.Time) (slack.SlashCommand, error) {
	got, err := hex.DecodeString(d.MAC)
	if len(s.key) == 0 || err != nil || !hmac.Equal(got, s.mac(d.Payload)) {
		return slack.SlashCommand{}, ErrBadMAC
	}
	var p sealed
	if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
		return slack.SlashCommand{}, fmt.Errorf("deferred command: %w", err)
	}
	if now.Unix() >= p.Expires {
		return slack.SlashCommand{}, ErrExpired
	}
	return p.Command, nil
}

// RunDeferred does the slow part of a sealed command exactly once: it
// refuses a payload without a valid MAC, claims the command's trigger_id,
// and answers through the command's response_url. An error is for the
// caller to report (on Lambda, the function's on-failure destination); a
// duplicate delivery is not an error.
func (h *Handler) RunDeferred(ctx context.Context, d Deferred) error {
	cmd, err := h.Sealer.Open(d, h.now())
	if err != nil {
		return err
	}
	log := h.Log.With("command", cmd.Command, "subcommand", subcommand(cmd.Text), "user", cmd.UserID, "triggerId", cmd.TriggerID)
	if h.Claims == nil {
		return h.Finish(ctx, cmd)
	}
	claim, err := h.Claims.Claim(ctx, "deferred/"+cmp.Or(cmd.TriggerID, cmd.ResponseURL))
	if err != nil {
		return fmt.Errorf("claim deferred command: %w", err)
	}
	switch claim.State {
	case dedupe.Done, dedupe.InProgress:
		log.Info("deferred command delivered again; done once already", "state", claim.State.String())
		return nil
	}
	finishErr := h.Finish(ctx, cmd)
	// Done even when it failed: a second attempt could post twice, and the
	// failure is reported instead.
	if err := h.Claims.Complete(ctx, claim); err != nil {
		log.Error("mark deferred command done", "error", err)
	}
	return finishErr
}

// GoDeferrer runs deferred commands in a goroutine, for a long-running
// process such as the dev server, through the same sealed path as Lambda.
type GoDeferrer struct{ Handler *Handler }

// Defer implements Deferrer.
func (d GoDeferrer) Defer(_ context.Context, sealed Deferred) error {
	go func() {
		if err := d.Handler.RunDeferred(context.Background(), sealed); err != nil {
			d.Handler.Log.Error("deferred command", "error", err)
		}
	}()
	return nil
}

// Invoke is the commands function's Lambda entry point. It takes two kinds
// of event: an API Gateway proxy request from Slack, answered by
// ServeCommand, and a Deferred sent by LambdaDeferrer, run by RunDeferred.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Deferred   *Deferred `json:"slackbot_deferred"`
		HTTPMethod string    `json:"httpMethod"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode invocation: %w", err)
	}
	switch {
	case probe.Deferred != nil:
		// An error reaches Lambda, which sends the event to the function's
		// on-failure queue (it is not retried: a retry could post twice).
		if err := h.RunDeferred(ctx, *probe.Deferred); err != nil {
			h.Log.Error("deferred command failed", "error", err)
			return nil, err
		}
		return nil, nil
	case probe.HTTPMethod != "":
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("decode API Gateway request: %w", err)
		}
		return h.ServeCommand(ctx, req)
	default:
		return nil, errors.New("invocation is neither an API Gateway request nor a deferred command")
	}
}
