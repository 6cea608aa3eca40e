package latency

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
)

// noLatencyRecent is how recent a minute of lines without a latency must be
// for the list to warn about it: a format fixed yesterday is no longer news.
const noLatencyRecent = 24 * time.Hour

// SourceList is the answer to `latency sources`: each source, its kind,
// how many routes it has and when its latest data is from, naming a source
// whose log lines carry no latency (an access log in the console's default
// format, which lacks $context.responseLatency).
func (b *Builder) SourceList(ctx context.Context) (chat.Message, error) {
	now := b.now()
	def := contract.DefaultSourceOf(b.sources)
	var lines, plain []string
	for _, name := range b.Sources() {
		st, err := b.store.SourceStats(ctx, name)
		if err != nil {
			return chat.Message{}, fmt.Errorf("latency sources: %s: %w", name, err)
		}
		kind := b.kind(name)
		what := kind
		if name == contract.DefaultSource {
			what = "the bot's own API"
		}
		line := fmt.Sprintf("*%s* (%s) · %s", name, what, plural(int64(st.Routes), "route"))
		if st.Latest > 0 {
			line += " · latest data " + ago(time.Unix(st.Latest, 0), now)
		} else {
			line += " · no data yet"
		}
		if name == def {
			line += " · the default"
		}
		if st.LatestNoLatency > 0 && now.Sub(time.Unix(st.LatestNoLatency, 0)) < noLatencyRecent {
			missing := "a latency"
			if kind == contract.SourceAPIGateway {
				missing = "`$context.responseLatency`"
			}
			line += fmt.Sprintf("\n:warning: its log has lines without %s (latest %s): they are counted as unusable, not measured",
				missing, ago(time.Unix(st.LatestNoLatency, 0), now))
		}
		lines = append(lines, line)
		plain = append(plain, name)
	}
	// Source names are checked at start-up (contract.IsSourceName),
	// so there is nothing to escape in them.
	text := "Latency sources: " + strings.Join(plain, ", ") + "."
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil),
		slack.NewContextBlock("", mrkdwn("`latency <source> [window] [route]` reports one; without a source, "+def+".")),
	}
	return chat.Message{Text: text, Blocks: blocks}, nil
}

// ago is t as the list shows it: the UTC time and how long before now.
func ago(t, now time.Time) string {
	d := now.Sub(t).Round(time.Minute)
	var rel string
	switch {
	case d < time.Minute:
		rel = "just now"
	case d < time.Hour:
		rel = fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		rel = fmt.Sprintf("%d h ago", int(d/time.Hour))
	default:
		rel = fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
	return t.UTC().Format("Jan 2 15:04") + " UTC, " + rel
}
