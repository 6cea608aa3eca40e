package slash_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/interactions"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify/verifytest"
)

// Example is README's "Add your own command, event or button": the lines
// between the README markers are the README's snippet, word for word
// (TestREADMEExample), and this runs them.
func Example() {
	v := verify.Verifier{SigningSecret: "example-secret"}
	log := slog.New(slog.DiscardHandler)
	commands := &slash.Handler{Verifier: v, Log: log}
	evs := &eventsapi.Handler{Verifier: v, Log: log}
	buttons := &interactions.Handler{Verifier: v, Log: log}

	// README begin
	// A subcommand: `/slackbot ping`, listed by `/slackbot help`.
	commands.Add(slash.Subcommand{
		Name: "ping", Usage: "[text]", Summary: "answer pong",
		Quick: func(_ context.Context, cmd slack.SlashCommand) chat.Message {
			return slash.Text("pong")
		},
	})
	// A slow one sets Check (the acknowledgement) and Slow (the work, done
	// after the answer, once, through the command's response_url) instead.

	// An event: add it to the manifest's bot_events too (infra/manifest.go).
	evs.On("reaction_added", func(ctx context.Context, ev slackevents.EventsAPIEvent) error {
		return nil // ev.InnerEvent.Data is a *slackevents.ReactionAddedEvent
	})

	// A button whose action_id is "ack": answer within 3 seconds.
	buttons.On(slack.InteractionTypeBlockActions, "ack", func(ctx context.Context, cb *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
		return nil, nil // cb.ActionCallback.BlockActions[0].Value is the button's value
	})
	// README end

	for _, text := range []string{"ping", "help"} {
		body := url.Values{"command": {"/slackbot"}, "user_id": {"U1"}, "text": {text}}.Encode()
		ts, sig := verifytest.Signature("example-secret", time.Now(), []byte(body))
		resp, _ := commands.Serve(context.Background(), events.APIGatewayProxyRequest{
			Headers: map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}, Body: body})
		fmt.Println(resp.StatusCode, strings.Contains(resp.Body, `"text":"pong"`), strings.Contains(resp.Body, "`/slackbot ping [text]` — answer pong"))
	}
	// Output:
	// 200 true false
	// 200 false true
}

// TestREADMEExample keeps the README's snippet the code Example runs.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Add your own command, event or button\n")
	if !ok {
		t.Fatal("README.md has no section \"Add your own command, event or button\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("the README section has no ```go block")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(string(src), "\t// README begin\n")
	code, _, _ = strings.Cut(code, "\t// README end\n")
	code = regexp.MustCompile(`(?m)^\t`).ReplaceAllString(code, "")
	if m[1] != code {
		t.Errorf("README's snippet differs from Example's; README has\n%s\nExample runs\n%s", m[1], code)
	}
}
