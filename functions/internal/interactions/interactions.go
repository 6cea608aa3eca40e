// Package interactions answers Slack's interactivity requests, POST
// /slack/interactions: clicks on buttons and menus (block_actions),
// shortcuts, and modal submissions (view_submission). Each request is
// verified like every other, its `payload` form field is parsed with
// slack-go, and it is dispatched by type and action_id or callback_id to a
// function registered with On, as eventsapi dispatches events.
//
// Slack waits 3 seconds for the answer and does not retry. A function
// answers within Budget; slow work (a report for another window) goes
// through the sealed, claimed path of package deferred.
package interactions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Budget is how long a function may work before the answer is sent.
const Budget = 2500 * time.Millisecond

// Func handles one interaction. A non-nil response is the answer's JSON
// (a view_submission's response_action); nil is an empty 200. An
// *apigw.Error is answered with its status.
type Func func(ctx context.Context, cb *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error)

// Handler serves POST /slack/interactions.
type Handler struct {
	Verifier verify.Verifier
	Log      *slog.Logger

	funcs map[string]Func
}

// On registers fn for interactions of type typ whose ID is id: the
// action_id of block_actions, the callback_id of a shortcut, a message
// shortcut (message_action), a view_submission or a view_closed. Action IDs
// must differ within a block, so an action_id may add "_" and a suffix to
// the id registered: latency_report_window_15m goes to the function of
// latency_report_window. An interaction with no function is acknowledged
// and ignored.
func (h *Handler) On(typ slack.InteractionType, id string, fn Func) {
	if h.funcs == nil {
		h.funcs = make(map[string]Func)
	}
	h.funcs[key(typ, id)] = fn
}

func key(typ slack.InteractionType, id string) string { return string(typ) + "/" + id }

// Serve answers one API Gateway proxy request. Refusals are
// answered with their 4xx; the error return is for the Lambda runtime and
// is always nil.
func (h *Handler) Serve(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return apigw.Verified(h.Verifier, h.Log, h.serve)(ctx, req)
}

func (h *Handler) serve(ctx context.Context, _ http.Header, body []byte) (events.APIGatewayProxyResponse, error) {
	cb, err := Parse(body)
	if err != nil {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "%s", err)
	}
	id := ID(&cb)
	log := apigw.Log(h.Log).With("type", string(cb.Type), "id", id, "user", cb.User.ID, "team", cb.Team.ID)
	fn, ok := h.lookup(cb.Type, id)
	if !ok {
		log.Debug("ignored interaction")
		return apigw.OK(), nil
	}
	log.Info("interaction")
	workCtx, cancel := context.WithTimeout(ctx, Budget)
	defer cancel()
	answer, err := fn(workCtx, &cb)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if answer == nil {
		return apigw.OK(), nil
	}
	return apigw.JSON(http.StatusOK, answer), nil
}

// lookup finds the function for id, or for the longest prefix of id that
// ends before an underscore.
func (h *Handler) lookup(typ slack.InteractionType, id string) (Func, bool) {
	for {
		if fn, ok := h.funcs[key(typ, id)]; ok {
			return fn, true
		}
		i := strings.LastIndexByte(id, '_')
		if i <= 0 {
			return nil, false
		}
		id = id[:i]
	}
}

// Parse reads an interaction: the JSON in the form field `payload`, with
// slack-go. It checks what every interaction has, a type and a user, and
// that a block_actions payload carries an action.
func Parse(body []byte) (slack.InteractionCallback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.InteractionCallback{}, errors.New("body is not a URL-encoded form")
	}
	payload := form.Get("payload")
	if payload == "" {
		return slack.InteractionCallback{}, errors.New(`form has no "payload"`)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return slack.InteractionCallback{}, errors.New("payload is not an interaction's JSON")
	}
	if cb.Type == "" || cb.User.ID == "" {
		return slack.InteractionCallback{}, errors.New("payload lacks type or user: not an interaction")
	}
	if cb.Type == slack.InteractionTypeBlockActions && len(cb.ActionCallback.BlockActions) == 0 {
		return slack.InteractionCallback{}, errors.New("block_actions payload without an action")
	}
	return cb, nil
}

// ID is what an interaction is dispatched by: the first action's action_id
// for block_actions (Slack sends one action per click), the view's
// callback_id for view_submission and view_closed, else the callback_id.
func ID(cb *slack.InteractionCallback) string {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) > 0 {
			return cb.ActionCallback.BlockActions[0].ActionID
		}
		return ""
	case slack.InteractionTypeViewSubmission, slack.InteractionTypeViewClosed:
		return cb.View.CallbackID
	}
	return cb.CallbackID
}
