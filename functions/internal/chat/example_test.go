package chat_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
)

// redirect is a Poster that sends every message to one channel, saying
// where it was meant to go: a staging bot that must not post in real
// channels. Wrapping a Poster changes what every caller sends (mention
// replies, notify, reports, alarms) without touching any of them.
type redirect struct {
	channel string
	next    chat.Poster
}

func (r redirect) Post(ctx context.Context, m chat.Message) (chat.Posted, error) {
	m.Text = fmt.Sprintf("(for %s) %s", m.Channel, m.Text)
	m.Channel = r.channel
	return r.next.Post(ctx, m)
}

func ExamplePoster() {
	// On Lambda, next is the *chat.Client of the bot token; the Printer
	// shows what would be sent.
	var p chat.Poster = redirect{channel: "C0STAGING1", next: &chat.Printer{W: os.Stdout}}
	if _, err := p.Post(context.Background(), chat.Message{Channel: "#deploys", Text: "Deploy done"}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// [slack chat.postMessage, not sent: no bot token]
	// {
	//   "channel": "C0STAGING1",
	//   "text": "(for #deploys) Deploy done"
	// }
}
