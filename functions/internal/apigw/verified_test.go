package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// passIf verifies a body that equals its string.
type passIf string

func (p passIf) Verify(_ http.Header, body []byte) error {
	if string(body) != string(p) {
		return errors.New("signature does not match")
	}
	return nil
}

// TestVerified: next sees only verified bodies; every refusal and failure
// is answered as JSON with its status, and a nil logger discards.
func TestVerified(t *testing.T) {
	var seen []string
	next := func(_ context.Context, h http.Header, body []byte) (events.APIGatewayProxyResponse, error) {
		seen = append(seen, string(body))
		switch string(body) {
		case "refuse":
			return events.APIGatewayProxyResponse{}, Errorf(http.StatusBadRequest, "no")
		case "fail":
			return events.APIGatewayProxyResponse{}, errors.New("table secret-name is gone")
		}
		return JSON(http.StatusOK, map[string]string{"got": h.Get("X-Test")}), nil
	}
	tests := []struct {
		name, body string
		verifier   Verifier
		status     int
		answer     string
		reachNext  bool
	}{
		{"verified", "ok", passIf("ok"), 200, `{"got":"yes"}`, true},
		{"forged", "ok", passIf("other"), 401, `{"error":"signature does not match"}`, false},
		{"too large", strings.Repeat("x", MaxBody+1), passIf("ok"), 413, "", false},
		{"refused by next", "refuse", passIf("refuse"), 400, `{"error":"no"}`, true},
		{"failed in next", "fail", passIf("fail"), 500, `{"error":"internal error"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			resp, err := Verified(tt.verifier, nil, next)(context.Background(), events.APIGatewayProxyRequest{
				Body: tt.body, Headers: map[string]string{"x-test": "yes"},
			})
			if err != nil {
				t.Fatalf("error %v: a refusal is an answer", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.answer != "" && resp.Body != tt.answer {
				t.Errorf("body %s, want %s", resp.Body, tt.answer)
			}
			if resp.StatusCode != 200 && !json.Valid([]byte(resp.Body)) {
				t.Errorf("refusal body %q is not JSON", resp.Body)
			}
			if (len(seen) == 1) != tt.reachNext {
				t.Errorf("next saw %q, want reached=%v", seen, tt.reachNext)
			}
		})
	}
}
