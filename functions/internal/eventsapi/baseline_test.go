package eventsapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// minimalChallenge is the least a Lambda handler can do for Slack's
// url_verification: decode the body and answer the challenge. It checks no
// signature and claims nothing, so it is the floor the real handler's cost
// is read against.
func minimalChallenge(req events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	var body struct{ Type, Challenge string }
	if json.Unmarshal([]byte(req.Body), &body) != nil || body.Type != "url_verification" {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest}
	}
	b, err := json.Marshal(map[string]string{"challenge": body.Challenge})
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}
	}
	return events.APIGatewayProxyResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

// BenchmarkURLVerificationMinimal is BenchmarkURLVerification's baseline,
// on the same request.
func BenchmarkURLVerificationMinimal(b *testing.B) {
	req := signed(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	b.ReportAllocs()
	for b.Loop() {
		if resp := minimalChallenge(req); resp.StatusCode != http.StatusOK {
			b.Fatal(resp.StatusCode)
		}
	}
}
