package awsenv_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
)

// answer is one answer of the stand-in AWS API.
type answer struct {
	status int
	body   string
}

// TestCall: answers are decoded, errors carry AWS's code without its
// namespace, throttles and 5xx are sent again (as the SDK's retryer does)
// and refusals are not. Each service's own test holds its requests to the
// SDK's (selfinvoke, config, installstore).
func TestCall(t *testing.T) {
	var calls int
	var answers []answer
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[calls]
		calls++
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
	}))
	defer api.Close()
	cfg := awsenv.Load(env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": api.URL}.get)
	req := awsenv.Request{Service: awsenv.KMS, Target: "TrentService.Encrypt", JSONVersion: "1.1", Body: map[string]string{}}
	tests := []struct {
		name    string
		answers []answer
		calls   int
		code    string
	}{
		{"ok", []answer{{200, `{"KeyId":"k"}`}}, 1, ""},
		{"5xx then ok", []answer{{500, `{}`}, {503, `{}`}, {200, `{"KeyId":"k"}`}}, 3, ""},
		{"throttled three times", []answer{{400, `{"__type":"ThrottlingException"}`}, {400, `{"__type":"ThrottlingException"}`}, {400, `{"__type":"ThrottlingException"}`}}, 3, "ThrottlingException"},
		{"refused", []answer{{400, `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`}}, 1, "ConditionalCheckFailedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers, calls = tt.answers, 0
			var out struct{ KeyId string }
			err := awsenv.Call(context.Background(), cfg, req, &out)
			if calls != tt.calls || errorCode(err) != tt.code {
				t.Fatalf("%d calls, error %v; want %d calls and code %q", calls, err, tt.calls, tt.code)
			}
			if err == nil && out.KeyId != "k" {
				t.Fatalf("answer %+v not decoded", out)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	for _, tt := range []struct {
		env  env
		want string
	}{
		{env{"AWS_REGION": "eu-west-1"}, "https://kms.eu-west-1.amazonaws.com"},
		{env{"AWS_REGION": "cn-north-1"}, "https://kms.cn-north-1.amazonaws.com.cn"},
		{env{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000/"}, "http://127.0.0.1:5000"},
		{env{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_KMS": "http://b"}, "http://b"},
	} {
		if got, err := awsenv.Endpoint(awsenv.Load(tt.env.get), awsenv.KMS); err != nil || got != tt.want {
			t.Errorf("%v: %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

// errorCode is the Code of the *awsenv.Error in err's chain, or "".
func errorCode(err error) string {
	var e *awsenv.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
