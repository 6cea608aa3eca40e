package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The workspace the load pretends to come from.
const (
	loadTeam    = "T0LOAD0001"
	loadApp     = "A0LOAD0001"
	loadChannel = "C0LOAD0001"
	loadUser    = "U0LOAD0001"
	loadBot     = "UBOT"
	mentionText = "<@" + loadBot + "> hi"
)

// retryWindow is how far back a retry reaches, in events. Slack's first retry
// follows a missed acknowledgement within seconds, so retries pick recent
// events: some of them race the first delivery, which is the case to test.
const retryWindow = 256

type kind int

const (
	kindNew kind = iota
	kindRetry
	kindForged
)

// event is one Events API delivery body and what identifies it.
type event struct {
	id     string
	ts     string // event.ts, which the bot's reply carries as thread_ts
	body   []byte
	forged bool
}

// request is one request sent, by index.
type request struct {
	kind  kind
	event int // index into traffic.events
}

// traffic makes the requests: new mentions, Slack's retries of recent ones,
// and a few forgeries. The shares are exact (accumulated, not drawn), so even
// a small run carries retries and forgeries.
type traffic struct {
	url         string
	secret      string
	limit       int
	retryShare  float64
	forgedShare float64
	start       time.Time

	mu                  sync.Mutex
	rng                 *rand.Rand
	retryAcc, forgedAcc float64
	forged              int // forged requests made so far
	events              []event
	genuine             []int // indexes of events that are not forged
	requests            []request
}

func newTraffic(url, secret string, limit int, retryShare, forgedShare float64, seed uint64) *traffic {
	return &traffic{
		url: url, secret: secret, limit: limit,
		retryShare: retryShare, forgedShare: forgedShare,
		start: time.Now(),
		rng:   rand.New(rand.NewPCG(seed, seed^0x5eed)),
	}
}

// target is the vegeta.Targeter. vegeta calls it from many workers at once,
// right before each request is sent, so the signature is made at send time.
func (t *traffic) target(tgt *vegeta.Target) error {
	t.mu.Lock()
	n := len(t.requests)
	if n >= t.limit {
		t.mu.Unlock()
		return vegeta.ErrNoTargets
	}
	r := t.next()
	t.requests = append(t.requests, r)
	ev := t.events[r.event]
	// Forgeries alternate: a wrong secret, then a body changed after signing.
	tamper := t.forged%2 == 0
	retryNum := 1 + t.rng.IntN(2)
	t.mu.Unlock()

	body, secret := ev.body, t.secret
	if r.kind == kindForged && !tamper {
		secret += "-wrong"
	}
	ts, sig := signature(secret, time.Now(), body)
	if r.kind == kindForged && tamper {
		// Signed as sent, then changed on the way: still a valid mention, so
		// it would be answered if the signature were not checked.
		body = bytes.Replace(body, []byte(mentionText), []byte("<@"+loadBot+"> latency"), 1)
		if bytes.Equal(body, ev.body) {
			return fmt.Errorf("tamper with event %s: its text is not %q", ev.id, mentionText)
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", sig)
	if r.kind == kindRetry {
		h.Set("X-Slack-Retry-Num", strconv.Itoa(retryNum))
		h.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	tgt.Method = http.MethodPost
	// The fragment names the request in vegeta's result; it is never sent.
	tgt.URL = t.url + "#" + strconv.Itoa(n)
	tgt.Body = body
	tgt.Header = h
	return nil
}

// next decides the next request. Caller holds t.mu.
func (t *traffic) next() request {
	t.forgedAcc += t.forgedShare
	t.retryAcc += t.retryShare
	switch {
	case t.forgedAcc >= 1:
		t.forgedAcc--
		t.forged++
		return request{kind: kindForged, event: t.newEvent(true)}
	case t.retryAcc >= 1 && len(t.genuine) > 0:
		t.retryAcc--
		recent := t.genuine[max(0, len(t.genuine)-retryWindow):]
		return request{kind: kindRetry, event: recent[t.rng.IntN(len(recent))]}
	default:
		return request{kind: kindNew, event: t.newEvent(false)}
	}
}

// newEvent makes an app_mention event_callback with a unique event_id and
// ts, in the shape Slack documents. Caller holds t.mu.
func (t *traffic) newEvent(forged bool) int {
	seq := len(t.events)
	unix := t.start.Unix()
	id, ts := fmt.Sprintf("Ev%08d", seq), fmt.Sprintf("%d.%06d", unix+int64(seq/1_000_000), seq%1_000_000)
	// Slack's bodies carry "<@U...>" as is; json.Marshal would escape it.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]any{
		"token":      "load-verification-token",
		"team_id":    loadTeam,
		"api_app_id": loadApp,
		"event": map[string]any{
			"type":     "app_mention",
			"user":     loadUser,
			"text":     mentionText,
			"ts":       ts,
			"channel":  loadChannel,
			"event_ts": ts,
		},
		"type":       "event_callback",
		"event_id":   id,
		"event_time": unix,
		"authorizations": []map[string]any{{
			"enterprise_id": nil, "team_id": loadTeam, "user_id": loadBot,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         fmt.Sprintf("4-load-%08d", seq),
	})
	if err != nil {
		panic(fmt.Sprintf("encode event: %v", err)) // a map of strings always encodes
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	t.events = append(t.events, event{id: id, ts: ts, body: body, forged: forged})
	if !forged {
		t.genuine = append(t.genuine, seq)
	}
	return seq
}

// snapshot returns what was sent. Call it once the attack is over.
func (t *traffic) snapshot() ([]event, []request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]event(nil), t.events...), append([]request(nil), t.requests...)
}

// signature returns the X-Slack-Request-Timestamp and X-Slack-Signature
// headers for body: v0, the HMAC-SHA256 of "v0:<timestamp>:<body>", as Slack
// documents it. It is written out here because functions/internal/verify
// cannot be imported from cmd/, and a second implementation from the spec
// also checks the bot's verifier against Slack's scheme rather than itself.
func signature(secret string, at time.Time, body []byte) (timestamp, sig string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return timestamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}
