// Package chartcall asks another Lambda function to draw a latency chart:
// the commands function sends `/slackbot latency … chart` to the
// percentiles function, which links the plotting library for its scheduled
// reports anyway, so the commands function does not link it and its cold
// start does not pay for it (gonum/plot's package initialisation and fonts).
// The call is Lambda's synchronous Invoke through awsenv.Call;
// TestInvokeIsTheSDKsRequest holds it to the SDK's request.
package chartcall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
)

// Key is the JSON key of a Request in the drawing function's event.
const Key = "slackbot_chart"

// Request is the chart to draw: a source's last window, of a route or of
// every route ("").
type Request struct {
	Source        string `json:"source"`
	WindowSeconds int64  `json:"window_seconds"`
	Route         string `json:"route"`
}

// Answer is the drawn chart: a nil PNG when the window had no requests.
type Answer struct {
	PNG   []byte `json:"png"`
	Title string `json:"title"`
}

// Lambda draws charts by invoking Function (a slash.Charter).
type Lambda struct {
	AWS      aws.Config
	Function string
}

// Chart implements slash.Charter.
func (l Lambda) Chart(ctx context.Context, source string, window time.Duration, route string) ([]byte, string, error) {
	body, err := json.Marshal(map[string]Request{Key: {Source: source, WindowSeconds: int64(window / time.Second), Route: route}})
	if err != nil {
		return nil, "", fmt.Errorf("chart request: %w", err)
	}
	// The function's result: its Outcome, whose chart field is the Answer,
	// or Lambda's report of a function error.
	var out struct {
		Chart        *Answer `json:"chart"`
		ErrorMessage string  `json:"errorMessage"`
	}
	err = awsenv.Call(ctx, l.AWS, awsenv.Request{
		Service: awsenv.Lambda,
		Method:  http.MethodPost,
		Path:    "/2015-03-31/functions/" + strings.ReplaceAll(url.PathEscape(l.Function), ":", "%3A") + "/invocations",
		Header:  http.Header{"X-Amz-Invocation-Type": {"RequestResponse"}},
		Body:    body,
	}, &out)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("ask %s for the chart: %w", l.Function, err)
	case out.ErrorMessage != "":
		return nil, "", fmt.Errorf("ask %s for the chart: %s", l.Function, out.ErrorMessage)
	case out.Chart == nil:
		return nil, "", errors.New("ask " + l.Function + " for the chart: it answered without one")
	}
	return out.Chart.PNG, out.Chart.Title, nil
}
