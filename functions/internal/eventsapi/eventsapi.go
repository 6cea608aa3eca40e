// Package eventsapi answers Slack's Events API: the URL verification
// challenge, and event callbacks dispatched by inner event type to functions
// registered with On. Retried deliveries are acted on at most once.
package eventsapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack/slackevents"

	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// EventFunc handles one inner event. ev.InnerEvent.Data holds the typed event
// (*slackevents.AppMentionEvent, ...).
type EventFunc func(ctx context.Context, ev slackevents.EventsAPIEvent) error

// Budget is how long an event's work may take. Slack waits 3 seconds for the
// acknowledgement, and the work is done before it is sent, since Lambda
// freezes a container once it has answered.
const Budget = 2500 * time.Millisecond

// Handler serves POST /slack/events.
type Handler struct {
	Verifier verify.Verifier
	Dedupe   dedupe.Store
	Log      *slog.Logger

	funcs map[string]EventFunc
}

// On registers fn for the inner event type ("app_mention", ...). Adding an
// event is one call; an event with no function is acknowledged and ignored.
func (h *Handler) On(eventType string, fn EventFunc) {
	if h.funcs == nil {
		h.funcs = make(map[string]EventFunc)
	}
	h.funcs[eventType] = fn
}

// envelope is the part of every Events API body needed to route it.
type envelope struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
	Event     struct {
		Type string `json:"type"`
	} `json:"event"`
}

// ServeEvent answers one API Gateway proxy request. Refusals are answered
// with their 4xx; the error return is for the Lambda runtime and is always nil.
//
// A body that can never be handled (malformed, too large) is answered with
// X-Slack-No-Retry: 1, so Slack does not send it again; a bad signature is
// not, since a retry signed after a secret rotation may pass.
func (h *Handler) ServeEvent(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	resp, err := h.serve(ctx, req)
	resp = apigw.Answer(h.Log, resp, err, "requestId", req.RequestContext.RequestID)
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge {
		if resp.Headers == nil {
			resp.Headers = map[string]string{}
		}
		resp.Headers["X-Slack-No-Retry"] = "1"
	}
	return resp, nil
}

func (h *Handler) serve(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body, err := apigw.Body(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	header := apigw.Header(req)
	if err := h.Verifier.Verify(header, body); err != nil {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusUnauthorized, "%s", err)
	}
	if len(body) == 0 {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "body is empty")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "body is not a JSON object")
	}
	switch env.Type {
	case slackevents.URLVerification:
		if env.Challenge == "" {
			return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "url_verification without a challenge")
		}
		return apigw.JSON(http.StatusOK, map[string]string{"challenge": env.Challenge}), nil
	case slackevents.CallbackEvent:
		return h.callback(ctx, body, env, header.Get("X-Slack-Retry-Num"))
	case slackevents.AppRateLimited:
		h.Log.Warn("Slack is rate limiting event deliveries to this app")
		return apigw.OK(), nil
	case "":
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, `body has no "type"`)
	default:
		h.Log.Info("ignored envelope type", "type", env.Type)
		return apigw.OK(), nil
	}
}

func (h *Handler) callback(ctx context.Context, body []byte, env envelope, retryNum string) (events.APIGatewayProxyResponse, error) {
	fn, ok := h.funcs[env.Event.Type]
	if !ok {
		h.Log.Debug("ignored event type", "eventType", env.Event.Type, "eventId", env.EventID)
		return apigw.OK(), nil
	}
	if env.EventID == "" {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "event_callback without an event_id")
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "malformed %s event", env.Event.Type)
	}
	claim, err := h.Dedupe.Claim(ctx, env.EventID)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	log := h.Log.With("eventId", env.EventID, "eventType", env.Event.Type, "retryNum", retryNum)
	switch claim.State {
	case dedupe.Done:
		log.Info("duplicate delivery ignored")
		return apigw.OK(), nil
	case dedupe.InProgress:
		// Not a 2xx, so Slack delivers again later: by then the first
		// attempt has finished, or its lease has run out and the work is
		// taken over.
		log.Info("an earlier delivery holds the event; Slack will retry")
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusConflict, "an earlier delivery of this event is still being handled; retry later")
	}
	if claim.TakenOver {
		log.Warn("took over an event whose earlier attempt did not finish")
	}
	workCtx, cancel := context.WithTimeout(ctx, Budget)
	defer cancel()
	err = fn(workCtx, ev)
	// However the work went, its bookkeeping runs on a context of its own:
	// a slow Slack may have spent the request's.
	settle, settled := dedupe.Settle(ctx)
	defer settled()
	var slackSaid *notify.Error
	switch {
	case err == nil:
	case notify.Unanswered(err):
		// Slack has the reply and may have posted it: a retry could post it
		// twice, so the event is done (at most once).
		log.Warn("Slack took the reply but did not answer; taken as delivered, not repeated", "error", err)
	case !errors.As(err, &slackSaid) || slackSaid.Code == "ratelimited":
		// Let Slack's retry do the work: forget the claim and fail.
		log.Error("event failed; Slack will retry", "error", err)
		if rerr := h.Dedupe.Release(settle, claim); rerr != nil {
			log.Error("release claim", "error", rerr)
		}
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusServiceUnavailable, "the event could not be handled now; Slack will retry")
	default:
		// Slack gave a definite answer; a redelivery would get the same.
		log.Warn("event handled with an error Slack reported", "error", err)
	}
	if err := h.Dedupe.Complete(settle, claim); err != nil {
		// The work is done and Slack gets its 200, so it will not deliver
		// again; only a delivery already on its way could find the claim
		// free, and the log says so.
		log.Error("mark event done", "error", err)
	}
	log.Info("event handled")
	return apigw.OK(), nil
}
