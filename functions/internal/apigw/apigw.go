// Package apigw reads API Gateway REST proxy requests and writes their
// answers: base64 bodies, headers whichever way API Gateway sent them, and the
// JSON error bodies that docs/design.md lists.
package apigw

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBody is the largest body accepted, decoded. Slack's payloads are a few
// KiB; API Gateway itself caps a request at 10 MB.
const MaxBody = 1 << 20

// Error is a refusal with the HTTP status to answer. Its message goes to the
// caller, so it must never hold a secret.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Body returns the request body as Slack sent it, decoding base64 when API
// Gateway encoded it (binary media types, or a proxy that always encodes).
func Body(req events.APIGatewayProxyRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		if len(req.Body) > MaxBody {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", MaxBody)
		}
		return []byte(req.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBody+2 {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", MaxBody)
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "body is marked isBase64Encoded but is not valid base64")
	}
	if len(b) > MaxBody {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", MaxBody)
	}
	return b, nil
}

// Header returns the request's headers with canonical names. API Gateway
// sends both maps; multiValueHeaders is complete, headers keeps the last
// value only, and a test event may carry either.
func Header(req events.APIGatewayProxyRequest) http.Header {
	h := make(http.Header, len(req.MultiValueHeaders)+len(req.Headers))
	for k, vs := range req.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range req.Headers {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
	return h
}

// JSON answers status with v as the JSON body.
func JSON(status int, v any) events.APIGatewayProxyResponse {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"could not encode the answer"}`)
	}
	return events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

// ErrorResponse answers err as {"error": "..."}: an *Error with its status, any
// other error as a 500 whose text is not shown (it may name internals).
func ErrorResponse(err error) events.APIGatewayProxyResponse {
	var e *Error
	if errors.As(err, &e) {
		return JSON(e.Status, map[string]string{"error": e.Msg})
	}
	return JSON(http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

// Answer is the response for a handler's result: resp, or err answered as
// ErrorResponse does and logged with attrs, refusals (an *Error) as warnings
// and anything else as an error. Nothing is built for a success: this is the
// hot path.
func Answer(log *slog.Logger, resp events.APIGatewayProxyResponse, err error, attrs ...any) events.APIGatewayProxyResponse {
	if err == nil {
		return resp
	}
	log = log.With(attrs...)
	var refusal *Error
	if errors.As(err, &refusal) {
		log.Warn("request refused", "status", refusal.Status, "error", refusal.Msg)
	} else {
		log.Error("request failed", "error", err)
	}
	return ErrorResponse(err)
}

// OK is an empty 200, the acknowledgement Slack wants for an event.
func OK() events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
}
