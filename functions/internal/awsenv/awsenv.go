// Package awsenv builds the AWS SDK configuration of a Lambda function from
// the environment Lambda sets: the region, and the execution role's
// credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN.
//
// It exists for the cold start. The SDK's config.LoadDefaultConfig walks the
// whole credential chain (shared files, SSO, web identity, the EC2 metadata
// service), and importing it links and initialises the STS, SSO, SSO-OIDC,
// sign-in and IMDS clients, which a Lambda function never uses: about a
// millisecond of package init and a few hundred microseconds of loading on
// every cold start. The dev server, which runs on a developer's machine,
// keeps the full chain.
//
// AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_<SERVICE> are
// honoured as the SDK honours them, so tests point the functions at a local
// moto server the same way.
package awsenv

import (
	"cmp"
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Load returns the configuration for the function's region and credentials,
// read through getenv (os.Getenv). Without credentials in the environment
// the configuration has none, and the first AWS call says so: a function
// with its secret in the environment and no tables makes no AWS call.
func Load(getenv func(string) string) aws.Config {
	cfg := aws.Config{
		Region:      cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")),
		Credentials: aws.CredentialsProviderFunc(noCredentials),
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")))
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	// Each service client asks its config sources for its own endpoint.
	cfg.ConfigSources = []any{serviceEndpoints(getenv)}
	return cfg
}

// noCredentials fails a call rather than let it go out unsigned.
func noCredentials(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, as Lambda sets them")
}

// serviceEndpoints answers a client's question for its own endpoint, named
// by its SDK service ID ("DynamoDB", "Secrets Manager", "Lambda"):
// AWS_ENDPOINT_URL_<ID>, upper-cased with spaces as underscores.
type serviceEndpoints func(string) string

// GetServiceBaseEndpoint is the method the SDK's clients look for.
func (getenv serviceEndpoints) GetServiceBaseEndpoint(_ context.Context, serviceID string) (string, bool, error) {
	u := getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(serviceID, " ", "_")))
	return u, u != "", nil
}
