// Command minimal is the floor of BenchmarkColdInit: the smallest Go Lambda
// function, whose INIT is the runtime's and aws-lambda-go's alone.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "ok", nil })
}
