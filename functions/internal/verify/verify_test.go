package verify

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slack's documented example: https://api.slack.com/authentication/verifying-requests-from-slack
const (
	docSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	docTimestamp = "1531420618"
	docBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	docSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

var docTime = time.Unix(1531420618, 0)

func header(sig, ts string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set("X-Slack-Signature", sig)
	}
	if ts != "" {
		h.Set("X-Slack-Request-Timestamp", ts)
	}
	return h
}

func TestSlackDocumentedExample(t *testing.T) {
	v := Verifier{SigningSecret: docSecret, Now: func() time.Time { return docTime.Add(30 * time.Second) }}
	if err := v.Verify(header(docSignature, docTimestamp), []byte(docBody)); err != nil {
		t.Fatalf("Slack's own example is refused: %v", err)
	}
	ts, sig := signature(docSecret, docTime, []byte(docBody))
	if ts != docTimestamp || sig != docSignature {
		t.Fatalf("Signature = %s %s, want %s %s", ts, sig, docTimestamp, docSignature)
	}
}

func TestVerify(t *testing.T) {
	now := docTime
	body := []byte(docBody)
	sign := func(at time.Time, b []byte) (string, string) { return signature(docSecret, at, b) }
	okTS, okSig := sign(now, body)
	oldTS, oldSig := sign(now.Add(-5*time.Minute-time.Second), body)
	edgeTS, edgeSig := sign(now.Add(-5*time.Minute), body)
	futTS, futSig := sign(now.Add(5*time.Minute+time.Second), body)
	_, otherSig := signature("another-secret", now, body)
	tests := []struct {
		name string
		v    Verifier
		h    http.Header
		body []byte
		want error
	}{
		{"valid", Verifier{SigningSecret: docSecret}, header(okSig, okTS), body, nil},
		{"edge of window", Verifier{SigningSecret: docSecret}, header(edgeSig, edgeTS), body, nil},
		{"too old", Verifier{SigningSecret: docSecret}, header(oldSig, oldTS), body, ErrStaleTimestamp},
		{"future", Verifier{SigningSecret: docSecret}, header(futSig, futTS), body, ErrStaleTimestamp},
		{"wrong secret", Verifier{SigningSecret: docSecret}, header(otherSig, okTS), body, ErrBadSignature},
		{"body changed", Verifier{SigningSecret: docSecret}, header(okSig, okTS), append([]byte("x"), body...), ErrBadSignature},
		{"timestamp changed", Verifier{SigningSecret: docSecret}, header(okSig, edgeTS), body, ErrBadSignature},
		{"unknown version", Verifier{SigningSecret: docSecret}, header("v1="+okSig[3:], okTS), body, ErrUnknownVersion},
		{"not hex", Verifier{SigningSecret: docSecret}, header("v0=zz", okTS), body, ErrBadSignature},
		{"short signature", Verifier{SigningSecret: docSecret}, header(okSig[:20], okTS), body, ErrBadSignature},
		{"timestamp not a number", Verifier{SigningSecret: docSecret}, header(okSig, "yesterday"), body, ErrBadTimestamp},
		{"missing signature", Verifier{SigningSecret: docSecret}, header("", okTS), body, ErrNoCredentials},
		{"missing timestamp", Verifier{SigningSecret: docSecret}, header(okSig, ""), body, ErrNoCredentials},
		{"missing both", Verifier{SigningSecret: docSecret}, header("", ""), body, ErrNoCredentials},
		{"no secret configured", Verifier{}, header(okSig, okTS), body, ErrNotConfigured},
		// With a signing secret, the token never stands in for a signature.
		{"token without signature is refused", Verifier{SigningSecret: docSecret, VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header("", ""), body, ErrNoCredentials},
		{"token json without signature is refused", Verifier{SigningSecret: docSecret, VerificationToken: "tok"}, header("", ""), []byte(`{"token":"tok","type":"url_verification"}`), ErrNoCredentials},
		{"token with only the signature header", Verifier{SigningSecret: docSecret, VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header(okSig, ""), body, ErrNoCredentials},
		{"token with only the timestamp header", Verifier{SigningSecret: docSecret, VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header("", okTS), body, ErrNoCredentials},
		{"signed request with token set still checks signature", Verifier{SigningSecret: docSecret, VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header(otherSig, okTS), body, ErrBadSignature},
		{"token not accepted when unset", Verifier{SigningSecret: docSecret}, header("", ""), []byte(`{"token":"tok"}`), ErrNoCredentials},
		// Without a signing secret, the token is required on every request.
		{"legacy token form", Verifier{VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header("", ""), body, nil},
		{"legacy token json", Verifier{VerificationToken: "tok"}, header("", ""), []byte(`{"token":"tok","type":"url_verification"}`), nil},
		{"legacy token with only the signature header", Verifier{VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header(okSig, ""), body, nil},
		{"legacy token with only the timestamp header", Verifier{VerificationToken: "xyzz0WbapA4vBCDEFasx0q6G"}, header("", okTS), body, nil},
		{"legacy wrong token with only one header", Verifier{VerificationToken: "other"}, header(okSig, ""), body, ErrBadToken},
		{"legacy signature is no substitute for the token", Verifier{VerificationToken: "other"}, header(okSig, okTS), body, ErrBadToken},
		{"legacy wrong token", Verifier{VerificationToken: "other"}, header("", ""), body, ErrBadToken},
		{"legacy empty token never matches", Verifier{VerificationToken: "tok"}, header("", ""), []byte(`{"token":""}`), ErrBadToken},
		{"legacy bad json", Verifier{VerificationToken: "tok"}, header("", ""), []byte(`{"token":`), ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.v.Now = func() time.Time { return now }
			err := tt.v.Verify(tt.h, tt.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLegacy(t *testing.T) {
	for _, tt := range []struct {
		v    Verifier
		want bool
	}{
		{Verifier{SigningSecret: "s"}, false},
		{Verifier{SigningSecret: "s", VerificationToken: "t"}, false},
		{Verifier{VerificationToken: "t"}, true},
		{Verifier{}, false},
	} {
		if got := tt.v.Legacy(); got != tt.want {
			t.Errorf("%+v.Legacy() = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestErrorsHoldNoSecret(t *testing.T) {
	v := Verifier{SigningSecret: docSecret, VerificationToken: "legacy-token-value", Now: func() time.Time { return docTime }}
	_, sig := signature(docSecret, docTime, []byte("a"))
	for _, h := range []http.Header{header(sig, docTimestamp), header("", ""), header("v0=00", docTimestamp)} {
		err := v.Verify(h, []byte("b"))
		if err == nil {
			t.Fatal("a tampered request passed")
		}
		for _, s := range []string{docSecret, "legacy-token-value", sig[3:]} {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error %q reveals %q", err, s)
			}
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(docSignature, docTimestamp, []byte(docBody), "")
	f.Add("v0=", "0", []byte(""), "tok")
	f.Add("", "", []byte(`{"token":"tok"}`), "tok")
	f.Add("v1=abc", "-1", []byte("token=tok"), "tok")
	v := Verifier{SigningSecret: docSecret, Now: func() time.Time { return docTime }}
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte, token string) {
		v := v
		v.VerificationToken = token
		if v.Verify(header(sig, ts), body) == nil {
			// With a signing secret, only a correct signature passes, token or not.
			if want := "v0=" + hex.EncodeToString(Sign(docSecret, ts, body)); sig != want {
				t.Fatalf("signature %q passed, want %q", sig, want)
			}
		}
		// In legacy mode a pass depends on the token: another token fails.
		legacy := Verifier{VerificationToken: token, Now: v.Now}
		if legacy.Verify(header(sig, ts), body) == nil {
			other := Verifier{VerificationToken: token + "x", Now: v.Now}
			if token == "" || other.Verify(header(sig, ts), body) == nil {
				t.Fatalf("legacy mode passed body %q whatever the token (%q)", body, token)
			}
		}
	})
}

// signature is verifytest.Signature, which this package's own tests cannot
// import.
func signature(secret string, at time.Time, body []byte) (timestamp, sig string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	return timestamp, "v0=" + hex.EncodeToString(Sign(secret, timestamp, body))
}
