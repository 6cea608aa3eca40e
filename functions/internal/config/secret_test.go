package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// moto is one moto server for the package's tests. The tests that use it do
// not run in parallel and each starts from a reset server.
var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

// secretsClient resets moto and returns a Secrets Manager client for it.
func secretsClient(t *testing.T) *secretsmanager.Client {
	t.Helper()
	if err := moto.Get(t).Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, err := moto.Get(t).AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return secretsmanager.NewFromConfig(cfg)
}

// createSecret stores a string (or, with binary, a binary) secret and returns
// its ARN.
func createSecret(t *testing.T, sm *secretsmanager.Client, name, value string, binary bool) string {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	if binary {
		in.SecretBinary = []byte(value)
	} else {
		in.SecretString = aws.String(value)
	}
	out, err := sm.CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

// fullSecret has every key, each with a value recognizable in error text.
var fullSecret = contract.Secret{
	SigningSecret:     "SIGNING-sentinel-8f3a",
	VerificationToken: "VTOKEN-sentinel-41c9",
	BotToken:          "xoxb-BOTTOKEN-sentinel-77d2",
	WebhookURL:        "https://hooks.slack.com/services/T0/B0/WEBHOOK-sentinel-0e5b",
	ClientID:          "CLIENTID-sentinel-5a1b",
	ClientSecret:      "CLIENTSECRET-sentinel-93e0",
}

var sentinels = []string{
	fullSecret.SigningSecret, fullSecret.VerificationToken, fullSecret.BotToken, fullSecret.WebhookURL,
	fullSecret.ClientID, fullSecret.ClientSecret, "sentinel",
}

func secretJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadSecretRoundTrip(t *testing.T) {
	sm := secretsClient(t)
	tests := []struct {
		name   string
		secret string
		want   contract.Secret
	}{
		{name: "all keys", secret: secretJSON(t, fullSecret), want: fullSecret},
		{name: "signing secret only", secret: `{"signing_secret":"only-this"}`, want: contract.Secret{SigningSecret: "only-this"}},
		{name: "unknown keys ignored", secret: `{"signing_secret":"s","bot_token":"xoxb-1","extra":{"a":1}}`,
			want: contract.Secret{SigningSecret: "s", BotToken: "xoxb-1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := createSecret(t, sm, fmt.Sprintf("slackbot/roundtrip-%d", i), tt.secret, false)
			for _, id := range []string{arn, fmt.Sprintf("slackbot/roundtrip-%d", i)} {
				got, err := config.ReadSecret(context.Background(), sm, id)
				if err != nil {
					t.Fatalf("ReadSecret(%s): %v", id, err)
				}
				if got != tt.want {
					t.Errorf("ReadSecret(%s) = %+v, want %+v", id, got, tt.want)
				}
			}
		})
	}
}

func TestReadSecretErrorsHideValues(t *testing.T) {
	sm := secretsClient(t)
	noSigning := fullSecret
	noSigning.SigningSecret = ""
	tests := []struct {
		name     string
		value    string
		binary   bool
		wantText string // the error must say this
	}{
		{name: "signing_secret missing", value: secretJSON(t, noSigning), wantText: `"signing_secret"`},
		{name: "signing_secret empty", value: `{"signing_secret":"","bot_token":"xoxb-sentinel-1","webhook_url":"https://hooks.slack.com/services/sentinel-2"}`, wantText: `"signing_secret"`},
		{name: "not JSON", value: "plaintext sentinel-secret-not-json", wantText: "JSON"},
		{name: "JSON string, not object", value: `"sentinel-a-bare-string"`, wantText: "JSON"},
		{name: "truncated JSON", value: `{"signing_secret":"SIGNING-sentinel-8f3a","bot_token":"xoxb-sent`, wantText: "JSON"},
		{name: "wrong type", value: `{"signing_secret":["SIGNING-sentinel-8f3a"],"bot_token":"xoxb-BOTTOKEN-sentinel-77d2"}`, wantText: "JSON"},
		{name: "binary", value: secretJSON(t, fullSecret), binary: true, wantText: "binary"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := createSecret(t, sm, fmt.Sprintf("slackbot/bad-%d", i), tt.value, tt.binary)
			s, err := config.ReadSecret(context.Background(), sm, arn)
			if err == nil {
				t.Fatalf("ReadSecret = %+v, want an error", s)
			}
			if s != (contract.Secret{}) {
				t.Errorf("ReadSecret returned %+v with its error", s)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantText) {
				t.Errorf("error %q does not say %s", msg, tt.wantText)
			}
			if !strings.Contains(msg, arn) {
				t.Errorf("error %q does not name the secret %s", msg, arn)
			}
			for _, v := range sentinels {
				if strings.Contains(msg, v) {
					t.Errorf("error %q carries secret text %q", msg, v)
				}
			}

			// Load reports the same failure.
			_, err = config.Load(context.Background(), env{contract.EnvSecretARN: arn}.get, sm)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Load error = %v, want one saying %s", err, tt.wantText)
			}
		})
	}
}

func TestReadSecretUnknownID(t *testing.T) {
	sm := secretsClient(t)
	const id = "slackbot/does-not-exist"
	_, err := config.ReadSecret(context.Background(), sm, id)
	if err == nil {
		t.Fatal("ReadSecret of an unknown secret succeeded")
	}
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("error %v (%T) does not wrap ResourceNotFoundException", err, err)
	}
	if !strings.Contains(err.Error(), id) {
		t.Errorf("error %q does not name the secret %s", err, id)
	}
}

func TestLoadFromSecret(t *testing.T) {
	sm := secretsClient(t)
	arn := createSecret(t, sm, "slackbot/load", secretJSON(t, fullSecret), false)
	e := env{
		contract.EnvSecretARN:     arn,
		contract.EnvSigningSecret: "env-value-must-lose",
		contract.EnvBotToken:      "xoxb-env-value-must-lose",
		contract.EnvDedupeTable:   "dedupe",
		contract.EnvSlackAPIURL:   "http://127.0.0.1:1/api",
	}
	c, err := config.Load(context.Background(), e.get, sm)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Secret != fullSecret {
		t.Errorf("Load credentials = %+v, want the secret's %+v", c.Secret, fullSecret)
	}
	if c.SecretARN != arn || c.DedupeTable != "dedupe" || c.SlackAPIURL != "http://127.0.0.1:1/api/" {
		t.Errorf("Load settings = %+v", c)
	}
}

// TestFromEnvironmentUsesMoto loads as a Lambda function does (awsenv) with
// only moto's environment, so the secret can be found only if the
// credentials and AWS_ENDPOINT_URL are honoured.
func TestFromEnvironmentUsesMoto(t *testing.T) {
	sm := secretsClient(t)
	arn := createSecret(t, sm, "slackbot/from-env", secretJSON(t, fullSecret), false)

	// Keep the developer's own AWS setup out of the SDK's default chain.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "SLACK") || k == contract.EnvLogLevel {
			unsetenv(t, k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, kv := range moto.Get(t).Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv(contract.EnvSecretARN, arn)
	t.Setenv(contract.EnvReportChannel, "#ops")

	c, awsCfg, err := config.FromEnvironment(context.Background())
	if err != nil {
		t.Fatalf("FromEnvironment: %v", err)
	}
	if c.Secret != fullSecret {
		t.Errorf("FromEnvironment credentials = %+v, want %+v", c.Secret, fullSecret)
	}
	if c.ReportChannel != "#ops" || c.SecretARN != arn {
		t.Errorf("FromEnvironment settings = %+v", c)
	}
	if awsCfg.Region != testenv.Region {
		t.Errorf("AWS region = %q, want %q", awsCfg.Region, testenv.Region)
	}
	if got := aws.ToString(awsCfg.BaseEndpoint); got != moto.Get(t).URL {
		t.Errorf("AWS BaseEndpoint = %q, want moto's %q", got, moto.Get(t).URL)
	}
}

func TestFromEnvironmentWithoutSecret(t *testing.T) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "SLACK") || k == contract.EnvLogLevel {
			unsetenv(t, k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_REGION", testenv.Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv(contract.EnvSigningSecret, "local-signing")
	t.Setenv(contract.EnvBotToken, "xoxb-local")

	c, _, err := config.FromEnvironment(context.Background())
	if err != nil {
		t.Fatalf("FromEnvironment: %v", err)
	}
	if c.SigningSecret != "local-signing" || c.BotToken != "xoxb-local" {
		t.Errorf("FromEnvironment credentials = %+v, want the SLACK_* variables", c.Secret)
	}
}

// unsetenv removes k for the rest of the test and restores it afterwards.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "") // records the old value for restoring
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}
