package selfinvoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/selfinvoke"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

// invoker records Lambda Invoke calls.
type invoker struct {
	in  *awslambda.InvokeInput
	err error
}

func (i *invoker) Invoke(_ context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	i.in = in
	return &awslambda.InvokeOutput{StatusCode: 202}, i.err
}

// responses keeps what is posted to response_url.
type responses struct{ texts []string }

func (r *responses) Post(_ context.Context, m notify.Message) (notify.Posted, error) {
	r.texts = append(r.texts, m.Text)
	return notify.Posted{}, nil
}

// TestDeferrer: the event goes to the named function, asynchronously, in
// the shape the commands function's Invoke reads back and runs.
func TestDeferrer(t *testing.T) {
	inv := &invoker{}
	d := selfinvoke.Deferrer{Client: inv, Function: "slackbot-dev-commands"}
	resp := &responses{}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := &slash.Handler{Respond: func(string) notify.Poster { return resp }, Log: log}
	runner := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Send: d, Claims: &dedupe.Memory{}, Log: log}
	runner.On(slash.Kind, h.FinishJob)
	cmd, err := slash.Parse([]byte(url.Values{"command": {"/slackbot"}, "user_id": {"U1"}, "text": {"echo hi"},
		"trigger_id": {"1.2"}, "response_url": {"https://hooks.slack.com/commands/T/1/x"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Later(context.Background(), slash.Kind, cmd.TriggerID, cmd); err != nil {
		t.Fatal(err)
	}
	if inv.in == nil || *inv.in.FunctionName != "slackbot-dev-commands" || inv.in.InvocationType != types.InvocationTypeEvent {
		t.Fatalf("Invoke input %+v: want the function, asynchronously", inv.in)
	}
	var back map[string]deferred.Sealed
	if err := json.Unmarshal(inv.in.Payload, &back); err != nil || back[deferred.Key].Box == "" {
		t.Fatalf("payload %s does not carry the sealed job: %v", inv.in.Payload, err)
	}
	fn := deferred.Function{Runner: runner}
	if _, err := fn.Invoke(context.Background(), inv.in.Payload); err != nil || len(resp.texts) != 1 {
		t.Fatalf("Invoke of the deferrer's payload: %v, %d answers; want one", err, len(resp.texts))
	}
	inv.err = errors.New("AccessDeniedException")
	if err := d.Send(context.Background(), back[deferred.Key]); err == nil || !strings.Contains(err.Error(), "slackbot-dev-commands") {
		t.Fatalf("a failed Invoke = %v, want an error naming the function", err)
	}
}
