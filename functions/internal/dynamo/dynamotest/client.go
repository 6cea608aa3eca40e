// Package dynamotest serves the tests of the DynamoDB stores: a client of
// a moto server, and an in-process stand-in table for benchmarks.
package dynamotest

import (
	"context"
	"testing"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// Client returns a client of m's DynamoDB, the client the functions use.
func Client(t testing.TB, m *testenv.Moto) *dynamo.Client {
	t.Helper()
	cfg, err := m.AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dynamo.New(cfg)
}
