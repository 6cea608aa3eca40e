// Package verify checks that a request comes from Slack: the v0 request
// signature (HMAC-SHA256 of "v0:<timestamp>:<body>" with the signing secret),
// or, only where no signing secret is configured, the legacy verification
// token.
//
// The token is never a fallback for a missing signature: a token travels in
// every body, so anyone who saw one request could replay or forge others,
// while a signature binds the body and a timestamp. With a signing secret
// configured, every request must be signed; without one, every request must
// carry the token.
//
// slack-go's SecretsVerifier does the same HMAC but reads the wall clock
// itself; this package takes the clock as a field so that Slack's published
// example request (from 2018) is a test vector, and tests of the 5-minute
// window need no sleeping.
package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Window is how far a request's timestamp may be from now, either way.
const Window = 5 * time.Minute

// The reasons a request is refused. Each is safe to show the caller: none
// holds a secret or the expected signature.
var (
	ErrNoCredentials  = errors.New("request is not signed: missing X-Slack-Signature or X-Slack-Request-Timestamp")
	ErrBadTimestamp   = errors.New("X-Slack-Request-Timestamp is not a Unix time in seconds")
	ErrStaleTimestamp = errors.New("X-Slack-Request-Timestamp is more than 5 minutes from now")
	ErrUnknownVersion = errors.New("X-Slack-Signature has an unknown version; want v0=")
	ErrBadSignature   = errors.New("X-Slack-Signature does not match the request")
	ErrBadToken       = errors.New("verification token does not match")
	ErrNotConfigured  = errors.New("no signing secret is configured")
)

// Verifier checks requests. The zero Now means time.Now.
type Verifier struct {
	SigningSecret string
	// VerificationToken is Slack's deprecated shared token. It is checked
	// only when SigningSecret is empty, and then every request must carry
	// it; with a signing secret set it is ignored.
	VerificationToken string
	Now               func() time.Time
}

// Legacy reports whether v checks the verification token instead of
// signatures, which deserves a warning at start-up.
func (v Verifier) Legacy() bool { return v.SigningSecret == "" && v.VerificationToken != "" }

// Verify returns nil when the request is from Slack. body is the raw body, as
// received (after base64 decoding, before any parsing).
func (v Verifier) Verify(h http.Header, body []byte) error {
	if v.SigningSecret == "" {
		if v.VerificationToken != "" {
			return v.verifyToken(body)
		}
		return ErrNotConfigured
	}
	sig, ts := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || ts == "" {
		return ErrNoCredentials
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if d := now().Sub(time.Unix(secs, 0)); d > Window || d < -Window {
		return ErrStaleTimestamp
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return ErrUnknownVersion
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	if !hmac.Equal(got, Sign(v.SigningSecret, ts, body)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the v0 HMAC of a request, as raw bytes.
func Sign(secret, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return mac.Sum(nil)
}

// verifyToken finds the "token" of a JSON (Events API) or form-encoded (slash
// command) body and compares it in constant time.
func (v Verifier) verifyToken(body []byte) error {
	var token string
	if trimmed := strings.TrimSpace(string(body)); strings.HasPrefix(trimmed, "{") {
		var b struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(body, &b) != nil {
			return ErrBadToken
		}
		token = b.Token
	} else {
		form, err := url.ParseQuery(trimmed)
		if err != nil {
			return ErrBadToken
		}
		token = form.Get("token")
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(v.VerificationToken)) != 1 {
		return ErrBadToken
	}
	return nil
}
