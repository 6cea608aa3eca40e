package apigw_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// TestRESTProxyEvent reads a REST API proxy event, in the shape AWS
// documents for the Lambda proxy integration, that carries the slash
// command of Slack's request-signing documentation with its signature.
// The body and headers apigw hands on must be exactly what Slack signed,
// in either of API Gateway's encodings.
func TestRESTProxyEvent(t *testing.T) {
	raw, err := os.ReadFile("testdata/rest-proxy-slash-command.json")
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	// Slack's documented signing secret and the request's time.
	v := verify.Verifier{
		SigningSecret: "8f742231b10e8888abcd99yyyzzz85a5",
		Now:           func() time.Time { return time.Unix(1531420618, 0) },
	}

	encoded := req
	encoded.Body, encoded.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(req.Body)), true
	onlyMulti := req
	onlyMulti.Headers = nil
	for name, r := range map[string]events.APIGatewayProxyRequest{"as sent": req, "base64": encoded, "multiValueHeaders only": onlyMulti} {
		body, err := apigw.Body(r)
		if err != nil {
			t.Fatalf("%s: Body: %v", name, err)
		}
		if string(body) != req.Body {
			t.Errorf("%s: body %q, want the form Slack sent", name, body)
		}
		if err := v.Verify(apigw.Header(r), body); err != nil {
			t.Errorf("%s: Slack's signature does not verify: %v", name, err)
		}
	}

	// One changed byte, and the signature no longer holds.
	tampered := req
	tampered.Body = req.Body[:len(req.Body)-1] + "d"
	body, _ := apigw.Body(tampered)
	if err := v.Verify(apigw.Header(tampered), body); !errors.Is(err, verify.ErrBadSignature) {
		t.Errorf("tampered body: %v, want ErrBadSignature", err)
	}

	cmd, err := slash.Parse([]byte(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Command != "/webhook-collect" || cmd.UserID != "U2CERLKJA" || cmd.Text != "" ||
		cmd.ResponseURL != "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN" {
		t.Errorf("parsed %+v", cmd)
	}
}
