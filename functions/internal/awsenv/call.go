package awsenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service names an AWS service for Call.
type Service struct {
	// Name is the signing name and the endpoint's host prefix
	// ("secretsmanager", "lambda", "dynamodb").
	Name string
	// ID is the SDK's service ID, which names its endpoint override
	// AWS_ENDPOINT_URL_<ID> ("Secrets Manager", "Lambda", "DynamoDB").
	ID string
}

// The services the functions call through Call.
var (
	SecretsManager = Service{Name: "secretsmanager", ID: "Secrets Manager"}
	Lambda         = Service{Name: "lambda", ID: "Lambda"}
	KMS            = Service{Name: "kms", ID: "KMS"}
)

// Request is one call of an AWS JSON protocol: awsJson1.1 or 1.0 (Target
// set, POST /) or restJson1 (Method and Path set).
type Request struct {
	Service Service
	// Target is the X-Amz-Target of the JSON protocols
	// ("secretsmanager.GetSecretValue"), with JSONVersion "1.1" or "1.0".
	Target      string
	JSONVersion string
	// Method and Path are those of restJson1 operations; Path is escaped.
	Method, Path string
	Header       http.Header
	// Body is encoded as JSON; a []byte is sent as it is.
	Body any
}

// Error is an AWS error answer.
type Error struct {
	Status  int
	Code    string // "ResourceNotFoundException", "ConditionalCheckFailedException"
	Message string
	Body    []byte // the answer, for what a service adds (DynamoDB's Item)
}

func (e *Error) Error() string {
	return fmt.Sprintf("api error %s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// httpClient has no timeout of its own: calls take their deadline from ctx.
var httpClient = &http.Client{}

// signer is shared so its cache of derived signing keys (one a day, service
// and region) spares each call after the first the four HMACs of a new key.
var signer = v4.NewSigner()

// attempts is how many times a call is sent when AWS answers with a
// throttle or a 5xx, as the SDK's standard retryer does.
const attempts = 3

// Call sends req, signed with Signature Version 4 with cfg's credentials to
// the endpoint the SDK would use (AWS_ENDPOINT_URL_<ID>, AWS_ENDPOINT_URL,
// else the service's regional endpoint), and decodes the JSON answer into
// out (nil: the body is dropped). It is the SDK's request without the SDK's
// client: each service client's package initialises its schemas and
// endpoint tables on every cold start, a millisecond or so for the three a
// function uses, for two or three operations. Each use is held to the
// SDK's own request by a test (see call_test.go).
func Call(ctx context.Context, cfg aws.Config, req Request, out any) error {
	body, ok := req.Body.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(req.Body); err != nil {
			return fmt.Errorf("%s: encode request: %w", req.Service.Name, err)
		}
	}
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(backoff(attempt)):
			}
		}
		var retry bool
		retry, err = send(ctx, cfg, req, body, out)
		if !retry {
			return err
		}
	}
	return err
}

// backoff is the wait before attempt: full jitter under 50 ms × 2^attempt.
func backoff(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(50*time.Millisecond) << attempt))
}

func send(ctx context.Context, cfg aws.Config, req Request, body []byte, out any) (retry bool, err error) {
	method, path := req.Method, req.Path
	if method == "" {
		method, path = http.MethodPost, "/"
	}
	endpoint, err := Endpoint(cfg, req.Service)
	if err != nil {
		return false, err
	}
	r, err := http.NewRequestWithContext(ctx, method, endpoint+path, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: %w", req.Service.Name, err)
	}
	for k, vs := range req.Header {
		r.Header[k] = vs
	}
	if req.Target != "" {
		r.Header.Set("X-Amz-Target", req.Target)
		r.Header.Set("Content-Type", "application/x-amz-json-"+req.JSONVersion)
	} else if r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: retrieve credentials: %w", req.Service.Name, err)
	}
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), req.Service.Name, cfg.Region, time.Now()); err != nil {
		return false, fmt.Errorf("%s: sign: %w", req.Service.Name, err)
	}
	resp, err := httpClient.Do(r)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("%s: %w", req.Service.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("%s: read answer: %w", req.Service.Name, err)
	}
	if resp.StatusCode >= 300 {
		e := decodeError(resp, b)
		return resp.StatusCode >= 500 || throttled(e.Code), e
	}
	if out == nil || len(b) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return false, fmt.Errorf("%s: decode answer: %w", req.Service.Name, err)
	}
	return false, nil
}

// throttled tells the codes the SDK's standard retryer retries as throttles.
func throttled(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

// decodeError reads an AWS JSON error: the code from X-Amzn-ErrorType or
// the body's __type or code, without its namespace ("…#Code") or its
// suffix ("Code:http://…"), as the SDK's deserialisers do.
func decodeError(resp *http.Response, b []byte) *Error {
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageC string `json:"Message"`
	}
	json.Unmarshal(b, &body)
	code := resp.Header.Get("X-Amzn-ErrorType")
	if code == "" {
		code = body.Type
	}
	if code == "" {
		code = body.Code
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := body.Message
	if msg == "" {
		msg = body.MessageC
	}
	return &Error{Status: resp.StatusCode, Code: code, Message: msg, Body: b}
}

// Endpoint is the base URL of s's API for cfg, without a trailing slash:
// AWS_ENDPOINT_URL_<ID>, AWS_ENDPOINT_URL, or s's regional endpoint.
func Endpoint(cfg aws.Config, s Service) (string, error) {
	for _, src := range cfg.ConfigSources {
		if e, ok := src.(serviceEndpoints); ok {
			if u, found, _ := e.GetServiceBaseEndpoint(context.Background(), s.ID); found {
				return strings.TrimSuffix(u, "/"), nil
			}
		}
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return strings.TrimSuffix(*cfg.BaseEndpoint, "/"), nil
	}
	if cfg.Region == "" {
		return "", fmt.Errorf("%s: no region: AWS_REGION is not set, as Lambda sets it", s.Name)
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(cfg.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://" + s.Name + "." + cfg.Region + "." + domain, nil
}
