package eventsapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack/slackevents"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify/verifytest"
)

// Adding an event is one call to On; the function gets the event parsed
// and typed. (Subscribe to it in the app manifest too, or Slack never sends
// it.) The Handler verifies the signature first and hands each event_id to
// the function once, however often Slack delivers it.
func ExampleHandler_On() {
	at := time.Unix(1700000000, 0)
	h := &eventsapi.Handler{
		Verifier: verify.Verifier{SigningSecret: "signing-secret", Now: func() time.Time { return at }},
		Dedupe:   &dedupe.Memory{}, // &dedupe.Dynamo{...} on Lambda
		Log:      slog.New(slog.DiscardHandler),
	}
	h.On("reaction_added", func(ctx context.Context, ev slackevents.EventsAPIEvent) error {
		r := ev.InnerEvent.Data.(*slackevents.ReactionAddedEvent)
		fmt.Printf("%s reacted :%s: to %s\n", r.User, r.Reaction, r.Item.Timestamp)
		return nil
	})
	// On Lambda: lambda.Start(h.Serve).

	body := `{"type":"event_callback","event_id":"Ev0001","event":{"type":"reaction_added","user":"U0123ABCD",` +
		`"reaction":"tada","item":{"type":"message","channel":"C0123ABCD","ts":"1700000000.000100"},"event_ts":"1700000001.000200"}}`
	ts, sig := verifytest.Signature("signing-secret", at, []byte(body))
	req := events.APIGatewayProxyRequest{
		HTTPMethod: "POST",
		Resource:   "/slack/events",
		Headers:    map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig},
		Body:       body,
	}
	for range 2 { // the delivery, then Slack's retry of it
		resp, _ := h.Serve(context.Background(), req)
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// U0123ABCD reacted :tada: to 1700000000.000100
	// 200
	// 200
}
