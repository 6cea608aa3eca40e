package awsenv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
)

type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestLoad(t *testing.T) {
	cfg := awsenv.Load(env{
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
		"AWS_REGION": "ap-northeast-2", "AWS_DEFAULT_REGION": "us-west-2",
	}.get)
	if cfg.Region != "ap-northeast-2" {
		t.Errorf("region %q, want AWS_REGION's", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("credentials %+v, %v", creds, err)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("base endpoint %q without AWS_ENDPOINT_URL", *cfg.BaseEndpoint)
	}
	cfg = awsenv.Load(env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_DEFAULT_REGION": "us-west-2"}.get)
	if cfg.Region != "us-west-2" {
		t.Errorf("region %q, want AWS_DEFAULT_REGION's when AWS_REGION is unset", cfg.Region)
	}
	// Without credentials, the first call fails with the SDK's own words.
	_, err = dynamodb.NewFromConfig(awsenv.Load(env{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}.get)).
		ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err == nil || !strings.Contains(err.Error(), "credential") {
		t.Errorf("a call without credentials: %v, want an error about credentials", err)
	}
}

// TestEndpoints sends real SDK calls and sees where they land: the global
// AWS_ENDPOINT_URL, and a service's own AWS_ENDPOINT_URL_<SERVICE> over it,
// as the SDK's full configuration honours them.
func TestEndpoints(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	server := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{}`))
		}))
		t.Cleanup(s.Close)
		return s
	}
	global, lambdaOnly := server("global"), server("lambda")
	cfg := awsenv.Load(env{
		"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL": global.URL, "AWS_ENDPOINT_URL_LAMBDA": lambdaOnly.URL,
	}.get)
	ctx := context.Background()
	dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
	lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: "Event"})
	mu.Lock()
	defer mu.Unlock()
	if hits["global"] != 1 || hits["lambda"] != 1 {
		t.Fatalf("calls landed %v: want DynamoDB on AWS_ENDPOINT_URL and Lambda on AWS_ENDPOINT_URL_LAMBDA", hits)
	}
}
