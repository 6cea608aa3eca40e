// Package deferred runs slow work after Slack has had its answer, exactly
// once and only when this app asked for it. Slack wants an answer within 3
// seconds, and a Lambda container is frozen as soon as it has answered, so
// the slow part of a command or a click is sent to another invocation of
// the same function (Lambda) or to a goroutine (the dev server).
//
// Anyone allowed to invoke the function could send such an event, and
// Lambda may deliver one twice, so each job is sealed and claimed: the job
// and an expiry are encrypted and authenticated with AES-256-GCM under a key
// derived from the signing secret, and the job's ID (Slack's trigger_id,
// unique per command or click) is claimed in the dedupe table before any
// work, so a second delivery does nothing. Encrypted, not only signed: a
// job that fails lands in the function's failure queue for days, and what
// it carries (a response_url, which answers the user for half an hour, and
// the user's text) is nobody's business there.
//
// A job runs until the invocation's deadline less dedupe.SettleTimeout, so
// that however slow Slack is, its claim is marked done before Lambda stops
// the invocation; a job whose claim stayed in progress would run again
// once its lease ran out.
package deferred

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

// Sealed is a job as it travels: Box is the job and its expiry as JSON,
// encrypted and authenticated (AES-256-GCM, the nonce first), in base64.
type Sealed struct {
	Box string `json:"box"`
}

// Key is the JSON key of a Sealed in the function's event.
const Key = "slackbot_deferred"

// TTL is how long a sealed job may wait to run: as long as Slack accepts
// answers on a response_url.
const TTL = 30 * time.Minute

// Job is work to do after the answer. Kind names the function that does it
// (see Runner.On), ID is what claims it, Body is the work as JSON.
type Job struct {
	Kind string          `json:"kind"`
	ID   string          `json:"id"`
	Body json.RawMessage `json:"body"`
	// Workspace is the workspace of the request that deferred the job,
	// whose token the job answers with.
	Workspace *workspace.Workspace `json:"workspace,omitempty"`
}

type payload struct {
	Job
	Expires int64 `json:"expires"` // Unix seconds
}

// Errors of Open. Neither says more than that the job is refused.
var (
	ErrBadMAC  = errors.New("deferred job: does not open with this app's key; not sent by this app")
	ErrExpired = errors.New("deferred job: expired")
)

// Sealer seals and opens jobs.
type Sealer struct {
	aead cipher.AEAD // nil: no key
}

// KeyLabel is what the sealing key is derived with. A new label makes
// jobs sealed before it unopenable, as a change of format must.
const KeyLabel = "slackbot deferred work v3 (AES-256-GCM)"

// NewSealer derives the sealing key from the signing secret (or, in a
// legacy set-up, the verification token). Deriving it keeps a key of ours
// from ever being the secret Slack signs with, and the reverse.
//
// An empty secret gives a Sealer with no key, which seals and opens
// nothing: a key derived from "" would be one that anyone can compute, so
// anyone allowed to invoke the function could forge jobs.
func NewSealer(secret string) Sealer {
	if secret == "" {
		return Sealer{}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(KeyLabel))
	block, err := aes.NewCipher(mac.Sum(nil)) // 32 bytes: AES-256
	if err != nil {
		panic(err) // cannot happen: the key has a valid length
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err) // cannot happen: AES has a 16-byte block
	}
	return Sealer{aead: aead}
}

// Seal wraps j to run before now+TTL.
func (s Sealer) Seal(j Job, now time.Time) (Sealed, error) {
	if s.aead == nil {
		return Sealed{}, fmt.Errorf("seal deferred %s: no signing secret to seal with", j.Kind)
	}
	b, err := json.Marshal(payload{Job: j, Expires: now.Add(TTL).Unix()})
	if err != nil {
		return Sealed{}, fmt.Errorf("seal deferred %s: %w", j.Kind, err)
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(b)+s.aead.Overhead())
	rand.Read(nonce)
	return Sealed{Box: base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, b, nil))}, nil
}

// Open returns the job of d if it opens with this key and has not expired.
func (s Sealer) Open(d Sealed, now time.Time) (Job, error) {
	box, err := base64.StdEncoding.DecodeString(d.Box)
	if s.aead == nil || err != nil || len(box) < s.aead.NonceSize() {
		return Job{}, ErrBadMAC
	}
	n := s.aead.NonceSize()
	b, err := s.aead.Open(nil, box[:n], box[n:], nil)
	if err != nil {
		return Job{}, ErrBadMAC
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Job{}, fmt.Errorf("deferred job: %w", err)
	}
	if now.Unix() >= p.Expires {
		return Job{}, ErrExpired
	}
	return p.Job, nil
}

// Func does one kind of job. Body is what Later was given, as JSON.
type Func func(ctx context.Context, body json.RawMessage) error

// Sender delivers a sealed job to Runner.Run after the answer: on Lambda,
// selfinvoke.Deferrer (its own package, so that a function that never
// defers does not link the Lambda client); in a server, Goroutine.
type Sender interface {
	Send(ctx context.Context, s Sealed) error
}

// Later defers work; *Runner implements it, and handlers take it so that
// their tests can record what they defer.
type Later interface {
	// Later seals body and sends it to run as kind, claimed by id. An
	// error means it will not run: the caller does the work itself.
	Later(ctx context.Context, kind, id string, body any) error
}

// Runner seals and sends jobs, and runs those that come back, once each.
type Runner struct {
	Sealer Sealer
	Send   Sender       // nil: Later fails, so callers do the work at once
	Claims dedupe.Store // nil: no claims (tests)
	Now    func() time.Time
	Log    *slog.Logger

	funcs map[string]Func
}

// On registers fn for jobs of kind.
func (r *Runner) On(kind string, fn Func) {
	if r.funcs == nil {
		r.funcs = make(map[string]Func)
	}
	r.funcs[kind] = fn
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Later implements Later.
func (r *Runner) Later(ctx context.Context, kind, id string, body any) error {
	if r == nil || r.Send == nil {
		return errors.New("deferred work is not set up here")
	}
	if _, ok := r.funcs[kind]; !ok {
		return fmt.Errorf("no function runs deferred %s jobs", kind)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode deferred %s: %w", kind, err)
	}
	job := Job{Kind: kind, ID: id, Body: b}
	if w, ok := workspace.From(ctx); ok {
		job.Workspace = &w
	}
	sealed, err := r.Sealer.Seal(job, r.now())
	if err != nil {
		return err
	}
	return r.Send.Send(ctx, sealed)
}

// Run does a sealed job exactly once: it refuses one without a valid MAC,
// claims its ID, and runs the function of its kind. An error is for the
// caller to report (on Lambda, the function's on-failure destination); a
// duplicate delivery is not an error.
func (r *Runner) Run(ctx context.Context, d Sealed) error {
	job, err := r.Sealer.Open(d, r.now())
	if err != nil {
		return err
	}
	fn, ok := r.funcs[job.Kind]
	if !ok {
		return fmt.Errorf("deferred job of unknown kind %q", job.Kind)
	}
	if job.ID == "" {
		return fmt.Errorf("deferred %s job has no ID to claim it by", job.Kind)
	}
	if job.Workspace != nil {
		ctx = workspace.With(ctx, *job.Workspace)
	}
	log := r.Log.With("kind", job.Kind, "jobId", job.ID)
	if r.Claims == nil {
		return r.outcome(log, r.work(ctx, fn, job.Body))
	}
	claim, err := r.Claims.Claim(ctx, "deferred/"+job.ID)
	if err != nil {
		return fmt.Errorf("claim deferred %s: %w", job.Kind, err)
	}
	switch claim.State {
	case dedupe.Done, dedupe.InProgress:
		log.Info("deferred job delivered again; done once already", "state", claim.State.String())
		return nil
	}
	runErr := r.work(ctx, fn, job.Body)
	// Done even when it failed: a second attempt could post twice, and the
	// failure is reported instead. On a context of its own: the job's may
	// be spent.
	settle, settled := dedupe.Settle(ctx)
	defer settled()
	if err := r.Claims.Complete(settle, claim); err != nil {
		log.Error("mark deferred job done", "error", err)
	}
	return r.outcome(log, runErr)
}

// work runs fn until ctx's deadline less dedupe.SettleTimeout, which is
// kept for marking the job done.
func (r *Runner) work(ctx context.Context, fn Func, body json.RawMessage) error {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-dedupe.SettleTimeout))
		defer cancel()
	}
	return fn(ctx, body)
}

// outcome is the error a job's run reports: none for an answer Slack got
// and never confirmed, which is taken as delivered (at most once), since a
// second attempt could post twice.
func (r *Runner) outcome(log *slog.Logger, err error) error {
	if notify.Unanswered(err) {
		log.Warn("Slack took the deferred job's answer but did not answer; taken as delivered, not repeated", "error", err)
		return nil
	}
	return err
}

// Goroutine sends jobs to a goroutine of this process, for a long-running
// server such as the dev server, through the same sealed path as Lambda.
type Goroutine struct{ Runner *Runner }

// Send implements Sender.
func (g Goroutine) Send(_ context.Context, s Sealed) error {
	go func() {
		if err := g.Runner.Run(context.Background(), s); err != nil {
			g.Runner.Log.Error("deferred job", "error", err)
		}
	}()
	return nil
}
