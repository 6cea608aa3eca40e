// Package chattest has the chat.Poster that handler tests post through.
package chattest

import (
	"context"
	"sync"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
)

// Recorder is a chat.Poster that keeps what it is sent, or fails with Err.
// A post is answered as Slack would: in the channel it was sent to.
type Recorder struct {
	Err error

	mu   sync.Mutex
	Msgs []chat.Message
}

// Post implements chat.Poster.
func (r *Recorder) Post(_ context.Context, m chat.Message) (chat.Posted, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return chat.Posted{}, r.Err
	}
	r.Msgs = append(r.Msgs, m)
	return chat.Posted{ChannelID: m.Channel, TS: "1"}, nil
}
