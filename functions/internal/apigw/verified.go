package apigw

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Handler answers one API Gateway proxy request: what lambda.Start, the
// dev server and deferred.Function take. A refusal is an answer (a 4xx),
// so the error is for the Lambda runtime alone and the handlers of this
// module always return nil.
type Handler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Verifier checks that a body was sent by Slack (verify.Verifier).
type Verifier interface {
	Verify(h http.Header, body []byte) error
}

// VerifiedFunc answers a request whose body has been read and verified.
// An *Error is answered with its status; any other error is a 500 whose
// text stays in the log.
type VerifiedFunc func(ctx context.Context, header http.Header, body []byte) (events.APIGatewayProxyResponse, error)

// Verified is the frame each Slack endpoint shares, as net/http middleware
// is: it reads the body (base64 or not, at most MaxBody), refuses a body
// that v does not verify with a 401, calls next, and answers next's error
// as JSON ({"error": ...}), logged with the request ID (see Answer). A nil
// log discards.
func Verified(v Verifier, log *slog.Logger, next VerifiedFunc) Handler {
	log = Log(log)
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp, err := verified(ctx, v, req, next)
		return Answer(log, resp, err, "requestId", req.RequestContext.RequestID), nil
	}
}

func verified(ctx context.Context, v Verifier, req events.APIGatewayProxyRequest, next VerifiedFunc) (events.APIGatewayProxyResponse, error) {
	body, err := Body(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	header := Header(req)
	if err := v.Verify(header, body); err != nil {
		return events.APIGatewayProxyResponse{}, Errorf(http.StatusUnauthorized, "%s", err)
	}
	return next(ctx, header, body)
}

// discard is the logger of a handler given none.
var discard = slog.New(slog.DiscardHandler)

// Log returns l, or a logger that discards when l is nil: the handlers of
// this module take a nil Log as "no logs", as net/http's Server takes a nil
// ErrorLog, rather than panic on the first request.
func Log(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
