package eventsapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// Reporter builds the latency report req asks for (latency.Builder).
type Reporter interface {
	Report(ctx context.Context, req latency.Request) (notify.Message, error)
}

// RequestParser reads a latency request's "[source] [window] [route]"
// (latency.Builder.ParseRequest, which knows the sources).
type RequestParser func(text string, defaultWindow time.Duration) (latency.Request, error)

// AppMention replies in the mention's thread: a latency report when the text
// asks for one ("@slackbot latency 1h") and reports is set, help otherwise.
func AppMention(post notify.Poster, reports Reporter, parseRequest RequestParser, defaultWindow time.Duration) EventFunc {
	return func(ctx context.Context, ev slackevents.EventsAPIEvent) error {
		m, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
		if !ok {
			return fmt.Errorf("app_mention carries %T", ev.InnerEvent.Data)
		}
		if m.BotID != "" {
			return nil // a bot's mention, maybe our own: answering could loop
		}
		thread := m.ThreadTimeStamp
		if thread == "" {
			thread = m.TimeStamp
		}
		reply, err := mentionReply(ctx, m.Text, reports, parseRequest, defaultWindow)
		if err != nil {
			return err
		}
		reply.Channel, reply.ThreadTS = m.Channel, thread
		_, err = post.Post(ctx, reply)
		return err
	}
}

func mentionReply(ctx context.Context, text string, reports Reporter, parseRequest RequestParser, defaultWindow time.Duration) (notify.Message, error) {
	words := strings.Fields(text)
	for i, w := range words {
		if !strings.EqualFold(w, "latency") {
			continue
		}
		if reports == nil {
			return notify.Message{Text: "Percentile reports are not set up yet."}, nil
		}
		req, err := parseRequest(strings.Join(words[i+1:], " "), defaultWindow)
		if err != nil {
			// The error quotes what the user wrote.
			return notify.Message{Text: slackutilsx.EscapeMessage(err.Error())}, nil
		}
		return reports.Report(ctx, req)
	}
	return notify.Message{Text: "Hi! Mention me with `latency` (optionally a source, a window like `15m` and a route) " +
		"for p50/p90/p95/p99 of this bot's API or of the services it watches, `latency sources` for those, or try `/slackbot help`."}, nil
}
