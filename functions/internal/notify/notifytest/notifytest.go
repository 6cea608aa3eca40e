// Package notifytest has the notify.Poster that handler tests post through.
package notifytest

import (
	"context"
	"sync"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// Recorder is a notify.Poster that keeps what it is sent, or fails with Err.
// A post is answered as Slack would: in the channel it was sent to.
type Recorder struct {
	Err error

	mu   sync.Mutex
	Msgs []notify.Message
}

// Post implements notify.Poster.
func (r *Recorder) Post(_ context.Context, m notify.Message) (notify.Posted, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return notify.Posted{}, r.Err
	}
	r.Msgs = append(r.Msgs, m)
	return notify.Posted{ChannelID: m.Channel, TS: "1"}, nil
}
