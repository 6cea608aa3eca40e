// Command oneanswer builds the events handler exactly as the events
// function's main does, answers the one API Gateway request it reads from
// standard input, and exits: a cold start and its first answer, in one
// process, for BenchmarkOneAnswer to set beside the hello-world floor.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
)

func main() {
	ctx := context.Background()
	cfg, awsCfg, err := config.FromEnvironment(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := bot.New(bot.Options{Config: cfg, AWS: awsCfg, Log: cfg.Logger(), Out: os.Stdout}).Events
	var req events.APIGatewayProxyRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp, _ := h(ctx, req)
	json.NewEncoder(os.Stdout).Encode(resp)
}
