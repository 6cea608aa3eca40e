package notify

import (
	"context"
	"errors"
	"net/http/httptrace"
	"sync"
	"time"
)

// CallTimeout is the longest one Slack call may take. Slack answers in
// well under a second when it is well; slack-go's client has no timeout of
// its own, so without this a call would run until the invocation's end,
// leaving no time to answer the user or settle the claim.
const CallTimeout = 3 * time.Second

// callContext bounds one call: at most CallTimeout, and at most half of
// what is left of ctx, so that whatever the call does, the other half is
// left for the answer and the bookkeeping after it.
func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	return context.WithTimeout(ctx, d)
}

// UnansweredError is a call whose request reached Slack in full and was
// never answered: Slack may well have done it. Retrying could do it twice,
// so callers decide (see Unanswered).
type UnansweredError struct{ Err error }

func (e *UnansweredError) Error() string {
	return "sent in full, but Slack did not answer in time: " + e.Err.Error()
}
func (e *UnansweredError) Unwrap() error { return e.Err }

// Unanswered reports whether err is a call Slack got and never answered,
// as opposed to one Slack refused (a 5xx, a 429, an error code) or never
// got (no connection): the outcome is unknown, not "not done".
func Unanswered(err error) bool {
	var u *UnansweredError
	return errors.As(err, &u)
}

// call runs one attempt of a Slack call under callContext, tracing its
// HTTP requests: when the last request was written in full and no answer
// began before the call failed, the error is an *UnansweredError.
func call(ctx context.Context, f func(context.Context) error) error {
	var mu sync.Mutex
	var wrote, answered bool
	trace := &httptrace.ClientTrace{
		// A call may make several requests (an upload makes three); what
		// counts is the last one.
		GetConn: func(string) {
			mu.Lock()
			wrote, answered = false, false
			mu.Unlock()
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			mu.Lock()
			wrote = i.Err == nil
			mu.Unlock()
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			answered = true
			mu.Unlock()
		},
	}
	cctx, cancel := callContext(ctx)
	defer cancel()
	err := f(httptrace.WithClientTrace(cctx, trace))
	if err == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	if wrote && !answered {
		return &UnansweredError{Err: err}
	}
	return err
}
