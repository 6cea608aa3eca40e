// Command echo is a Lambda function for testenv's own tests: it returns its
// payload and a few facts about the environment the emulator gave it, and
// fails on request, so the harness can be checked end to end.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Message string   `json:"message"`
	Env     []string `json:"env"`      // names of variables to report
	Fail    string   `json:"fail"`     // when set, the handler returns this error
	SleepMS int      `json:"sleep_ms"` // how long to sleep before answering
}

type response struct {
	Payload      json.RawMessage   `json:"payload"`
	Env          map[string]string `json:"env"`
	Cwd          string            `json:"cwd"`
	FunctionName string            `json:"function_name"`
	RequestID    string            `json:"request_id"`
	PID          int               `json:"pid"`
}

func handle(ctx context.Context, raw json.RawMessage) (response, error) {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return response{}, fmt.Errorf("decode payload: %w", err)
	}
	time.Sleep(time.Duration(req.SleepMS) * time.Millisecond)
	if req.Fail != "" {
		return response{}, errors.New(req.Fail)
	}
	var requestID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	fmt.Printf("echo: handling %q\n", req.Message)

	env := make(map[string]string, len(req.Env))
	for _, name := range req.Env {
		env[name] = os.Getenv(name)
	}
	cwd, _ := os.Getwd()
	return response{
		Payload:      raw,
		Env:          env,
		Cwd:          cwd,
		FunctionName: lambdacontext.FunctionName,
		RequestID:    requestID,
		PID:          os.Getpid(),
	}, nil
}

func main() {
	lambda.Start(handle)
}
