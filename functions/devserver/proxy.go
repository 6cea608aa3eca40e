package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
)

// Route is one resource and method, as API Gateway's would be.
type Route struct {
	Method  string
	Path    string
	Handler apigw.Handler
}

// Proxy turns HTTP requests into the events API Gateway's proxy integration
// sends a Lambda, and the Lambda's answer back into HTTP.
type Proxy struct {
	routes map[string]Route // by path
	stage  string

	// Observe, when set, is told each proxied request's route, status and
	// latencies, as API Gateway's access log would carry them.
	Observe func(route string, at time.Time, status int, response, integration time.Duration)

	logMu  sync.Mutex
	logOut io.Writer
}

// NewProxy serves routes on stage "dev".
func NewProxy(routes ...Route) *Proxy {
	g := &Proxy{routes: make(map[string]Route), stage: "dev"}
	for _, r := range routes {
		g.routes[r.Path] = r
	}
	return g
}

// WithAccessLog writes one access-log line per request to w, in the stage's
// format (contract.AccessLogFormat).
func (g *Proxy) WithAccessLog(w io.Writer) *Proxy {
	g.logOut = w
	return g
}

// maxRequest is API Gateway's payload limit.
const maxRequest = 10 << 20

func (g *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route, ok := g.routes[r.URL.Path]
	if !ok {
		// API Gateway's own answer for a path it does not know.
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Missing Authentication Token"})
		return
	}
	if r.Method != route.Method {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Missing Authentication Token"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Too Long"})
		return
	}
	req := ProxyRequest(r, route.Path, body, g.stage, start)
	callStart := time.Now()
	resp, err := route.Handler(r.Context(), req)
	integration := time.Since(callStart)
	status := resp.StatusCode
	if err != nil || status == 0 {
		// What API Gateway answers when the Lambda fails or returns nonsense.
		status = http.StatusBadGateway
		writeJSON(w, status, map[string]string{"message": "Internal server error"})
	} else {
		writeProxyResponse(w, resp)
	}
	total := time.Since(start)
	g.accessLog(req, status, total, integration)
	if g.Observe != nil {
		g.Observe(accesslog.Route(route.Method, route.Path), start, status, total, integration)
	}
}

// ProxyRequest builds the event API Gateway's REST proxy integration sends
// for r, as documented for the Lambda proxy integration's input format.
func ProxyRequest(r *http.Request, resource string, body []byte, stage string, at time.Time) events.APIGatewayProxyRequest {
	headers := make(map[string]string, len(r.Header)+1)
	multi := make(map[string][]string, len(r.Header)+1)
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	// Go moves Host out of the header map; API Gateway passes it on.
	headers["Host"], multi["Host"] = r.Host, []string{r.Host}
	var query map[string]string
	var multiQuery map[string][]string
	if q := r.URL.Query(); len(q) > 0 {
		query, multiQuery = make(map[string]string, len(q)), q
		for k, vs := range q {
			query[k] = vs[len(vs)-1]
		}
	}
	// Without binary media types API Gateway passes text through as is;
	// bytes that are not UTF-8 arrive base64-encoded.
	encoded := !utf8.Valid(body)
	b := string(body)
	if encoded {
		b = base64.StdEncoding.EncodeToString(body)
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	return events.APIGatewayProxyRequest{
		Resource:                        resource,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		Body:                            b,
		IsBase64Encoded:                 encoded,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        "000000000000",
			ResourceID:       "local",
			Stage:            stage,
			RequestID:        requestID(),
			ResourcePath:     resource,
			HTTPMethod:       r.Method,
			APIID:            "local",
			Path:             "/" + stage + r.URL.Path,
			Protocol:         r.Proto,
			DomainName:       r.Host,
			RequestTime:      at.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: at.UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
}

func writeProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// accessLog writes the stage's access-log line: the format's $context
// variables replaced, as API Gateway does.
func (g *Proxy) accessLog(req events.APIGatewayProxyRequest, status int, total, integration time.Duration) {
	if g.logOut == nil {
		return
	}
	line := strings.NewReplacer(
		"$context.requestId", req.RequestContext.RequestID,
		"$context.requestTimeEpoch", strconv.FormatInt(req.RequestContext.RequestTimeEpoch, 10),
		"$context.httpMethod", req.HTTPMethod,
		"$context.resourcePath", req.Resource,
		"$context.status", strconv.Itoa(status),
		"$context.responseLatency", strconv.FormatInt(total.Milliseconds(), 10),
		"$context.integrationLatency", strconv.FormatInt(integration.Milliseconds(), 10),
	).Replace(contract.AccessLogFormat)
	g.logMu.Lock()
	defer g.logMu.Unlock()
	fmt.Fprintln(g.logOut, line)
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
