package testenv

import (
	"net/http"
	"time"
)

// SlowReply is a way Slack mishandles an event's reply, with the status
// the event's first delivery gets for it.
type SlowReply struct {
	Name      string
	Mode      Mode
	WantFirst int
}

// SlowReplies are the cases of "one reply however often Slack delivers
// the event": a reply answered late is taken as delivered (200); one
// refused once with a 503 is left to Slack's retry (503), which posts it.
var SlowReplies = []SlowReply{
	{"answered late", AnswerLate(time.Minute), http.StatusOK},
	{"refused once", RefuseOnce, http.StatusServiceUnavailable},
}
