package apigw

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestBody(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		req    events.APIGatewayProxyRequest
		want   string
		status int
	}{
		{"plain", events.APIGatewayProxyRequest{Body: "a=1"}, "a=1", 0},
		{"base64", events.APIGatewayProxyRequest{Body: b64("a=1&b=é"), IsBase64Encoded: true}, "a=1&b=é", 0},
		{"base64 empty", events.APIGatewayProxyRequest{Body: "", IsBase64Encoded: true}, "", 0},
		{"invalid base64", events.APIGatewayProxyRequest{Body: "a=1", IsBase64Encoded: true}, "", 400},
		{"plain at limit", events.APIGatewayProxyRequest{Body: strings.Repeat("x", MaxBody)}, strings.Repeat("x", MaxBody), 0},
		{"plain over limit", events.APIGatewayProxyRequest{Body: strings.Repeat("x", MaxBody+1)}, "", 413},
		{"base64 over limit", events.APIGatewayProxyRequest{Body: b64(strings.Repeat("x", MaxBody+1)), IsBase64Encoded: true}, "", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Body(tt.req)
			var e *Error
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("Body: %v", err)
			case tt.status != 0 && (!errors.As(err, &e) || e.Status != tt.status):
				t.Fatalf("Body error %v, want status %d", err, tt.status)
			case string(got) != tt.want:
				t.Fatalf("Body = %.40q, want %.40q", got, tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	h := Header(events.APIGatewayProxyRequest{
		Headers:           map[string]string{"x-slack-signature": "v0=single", "Content-Type": "text/plain"},
		MultiValueHeaders: map[string][]string{"X-SLACK-SIGNATURE": {"v0=multi"}, "X-Forwarded-For": {"1.1.1.1", "2.2.2.2"}},
	})
	if got := h.Get("X-Slack-Signature"); got != "v0=multi" {
		t.Errorf("signature %q: multiValueHeaders is complete and wins", got)
	}
	if got := h.Get("content-type"); got != "text/plain" {
		t.Errorf("content-type %q", got)
	}
	if got := h.Values("X-Forwarded-For"); len(got) != 2 {
		t.Errorf("X-Forwarded-For %q, want both values", got)
	}
}

func TestErrorResponse(t *testing.T) {
	r := ErrorResponse(Errorf(http.StatusBadRequest, "bad %s", "thing"))
	if r.StatusCode != 400 || r.Body != `{"error":"bad thing"}` || r.Headers["Content-Type"] != "application/json" {
		t.Fatalf("%+v", r)
	}
	r = ErrorResponse(errors.New("dial tcp 10.0.0.1: secret internals"))
	if r.StatusCode != 500 || strings.Contains(r.Body, "internals") {
		t.Fatalf("internal error leaked: %+v", r)
	}
}

// FuzzRequest decodes API Gateway proxy events as Lambda would receive them.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(`{"body":"a=1","isBase64Encoded":false,"headers":{"X-Slack-Signature":"v0=1"}}`))
	f.Add([]byte(`{"body":"YT0x","isBase64Encoded":true,"multiValueHeaders":{"x-slack-request-timestamp":["1","2"]}}`))
	f.Add([]byte(`{"body":"***","isBase64Encoded":true}`))
	f.Fuzz(func(t *testing.T, event []byte) {
		var req events.APIGatewayProxyRequest
		if json.Unmarshal(event, &req) != nil {
			return
		}
		body, err := Body(req)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status < 400 || e.Status > 499) {
			t.Fatalf("Body error %v is not a 4xx", err)
		}
		if len(body) > MaxBody {
			t.Fatalf("body of %d bytes passed the limit", len(body))
		}
		if err == nil && !req.IsBase64Encoded && string(body) != req.Body {
			t.Fatal("plain body changed")
		}
		h := Header(req)
		for k, v := range req.Headers {
			if h.Get(k) == "" && v != "" && len(req.MultiValueHeaders) == 0 {
				t.Fatalf("header %q lost", k)
			}
		}
	})
}
