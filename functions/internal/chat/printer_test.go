package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

func TestPrinterWritesPostMessageJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  chat.Message
	}{
		{name: "text", msg: chat.Message{Channel: "#general", Text: "hello <world> & \"you\""}},
		{name: "thread and blocks", msg: chat.Message{
			Channel: "C0123ABCD", Text: "report", ThreadTS: "1700000000.000100",
			Blocks:   []slack.Block{slack.NewDividerBlock(), slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*p50* 3 ms", false, false), nil, nil)},
			Metadata: &slack.SlackMetadata{EventType: "latency_report", EventPayload: map[string]any{"window_seconds": float64(900)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			p := &chat.Printer{W: &out}
			posted, err := p.Post(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("Post: %v", err)
			}
			if posted.ChannelID != tt.msg.Channel {
				t.Errorf("Posted.ChannelID = %q, want %q", posted.ChannelID, tt.msg.Channel)
			}
			// A header line for the person, then the JSON body.
			header, body, found := strings.Cut(out.String(), "\n")
			if !found || !strings.Contains(header, "chat.postMessage") {
				t.Fatalf("output %q does not start with a chat.postMessage header line", out.String())
			}
			var got struct {
				Channel  string               `json:"channel"`
				Text     string               `json:"text"`
				ThreadTS string               `json:"thread_ts"`
				Blocks   slack.Blocks         `json:"blocks"`
				Metadata *slack.SlackMetadata `json:"metadata"`
			}
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("printed body %q: %v", body, err)
			}
			if got.Channel != tt.msg.Channel || got.Text != tt.msg.Text || got.ThreadTS != tt.msg.ThreadTS {
				t.Errorf("printed channel/text/thread_ts = %q/%q/%q, want %q/%q/%q",
					got.Channel, got.Text, got.ThreadTS, tt.msg.Channel, tt.msg.Text, tt.msg.ThreadTS)
			}
			if len(got.Blocks.BlockSet) != len(tt.msg.Blocks) {
				t.Errorf("printed %d blocks, want %d", len(got.Blocks.BlockSet), len(tt.msg.Blocks))
			}
			if (got.Metadata == nil) != (tt.msg.Metadata == nil) ||
				got.Metadata != nil && got.Metadata.EventType != tt.msg.Metadata.EventType {
				t.Errorf("printed metadata = %+v, want %+v", got.Metadata, tt.msg.Metadata)
			}
		})
	}
}

// TestPostMessageBodyMatchesClient checks that what the Printer shows is what
// the Client sends: the same fields, as chat.postMessage receives them.
func TestPostMessageBodyMatchesClient(t *testing.T) {
	t.Parallel()
	msg := chat.Message{
		Channel: "C0123ABCD", Text: "report", ThreadTS: "1700000000.000100",
		Blocks:   []slack.Block{slack.NewDividerBlock()},
		Metadata: &slack.SlackMetadata{EventType: "latency_report", EventPayload: map[string]any{"window_seconds": float64(60)}},
	}
	s := testenv.NewSlack(t, botToken, nil)
	c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})
	if _, err := c.Post(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	form := s.Posts()[0]
	for key, v := range chat.PostMessageBody(msg) {
		want, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, key, []byte(form.Get(key)), b)
			continue
		}
		if got := form.Get(key); got != want {
			t.Errorf("%s: Client sent %q, PostMessageBody says %q", key, got, want)
		}
	}
}
