package main

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
)

// DynamoDB actions per use. Each function gets the set it needs on the one table it uses.
var (
	// The events and commands functions claim an event id or a deferred
	// command with a conditional put, mark it done with an update conditional
	// on their claim token, and release the claim when the work fails, so a
	// retry can redo it.
	dedupeActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
	// A report reads the route registry item and queries each route's minutes.
	sketchReadActions = []string{"dynamodb:GetItem", "dynamodb:Query"}
	// The percentiles function merges each batch into a route-minute's item with
	// a read and a conditional put or update (optimistic locking).
	sketchWriteActions = []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	secretActions      = []string{"secretsmanager:GetSecretValue"}
)

// credentials is the Secrets Manager secret holding the Slack credentials.
type credentials struct {
	Secret  *secretsmanager.Secret
	Version *secretsmanager.SecretVersion
}

// newCredentials declares the secret and its current version, the
// contract.Secret JSON of the stack's secret configuration.
func newCredentials(ctx *pulumi.Context, s *settings) (*credentials, error) {
	secret, err := secretsmanager.NewSecret(ctx, "slack-credentials", &secretsmanager.SecretArgs{
		Description: pulumi.Sprintf("Slack credentials of the %s-%s slackbot", ctx.Project(), ctx.Stack()),
	})
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	doc := pulumi.All(s.SigningSecret, s.VerificationToken, s.BotToken, s.WebhookURL, s.ClientSecret).ApplyT(
		func(v []any) (string, error) {
			b, err := json.Marshal(contract.Secret{
				SigningSecret:     v[0].(string),
				VerificationToken: v[1].(string),
				BotToken:          v[2].(string),
				WebhookURL:        v[3].(string),
				ClientID:          s.ClientID,
				ClientSecret:      v[4].(string),
			})
			if err != nil {
				return "", fmt.Errorf("secret document: %w", err)
			}
			return string(b), nil
		}).(pulumi.StringOutput)
	version, err := secretsmanager.NewSecretVersion(ctx, "slack-credentials", &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: pulumi.ToSecret(doc).(pulumi.StringOutput),
	})
	if err != nil {
		return nil, fmt.Errorf("secret version: %w", err)
	}
	return &credentials{Secret: secret, Version: version}, nil
}

// tables are the DynamoDB tables: on demand (Slack traffic is small and bursty),
// expiring items by TTL, and with point-in-time recovery.
type tables struct {
	Dedupe   *dynamodb.Table
	Sketches *dynamodb.Table
}

// newTables declares the dedupe and sketch tables with the keys and TTL
// attribute of the contract.
func newTables(ctx *pulumi.Context) (*tables, error) {
	table := func(name string, attrs dynamodb.TableAttributeArray, hash, rng string) (*dynamodb.Table, error) {
		args := &dynamodb.TableArgs{
			BillingMode: pulumi.String("PAY_PER_REQUEST"),
			HashKey:     pulumi.String(hash),
			Attributes:  attrs,
			Ttl: &dynamodb.TableTtlArgs{
				AttributeName: pulumi.String(contract.TTLAttribute),
				Enabled:       pulumi.Bool(true),
			},
			PointInTimeRecovery: &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		}
		if rng != "" {
			args.RangeKey = pulumi.String(rng)
		}
		t, err := dynamodb.NewTable(ctx, name, args)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		return t, nil
	}
	dedupe, err := table("dedupe", dynamodb.TableAttributeArray{
		dynamodb.TableAttributeArgs{Name: pulumi.String(contract.DedupeKey), Type: pulumi.String("S")},
	}, contract.DedupeKey, "")
	if err != nil {
		return nil, err
	}
	sketches, err := table("sketches", dynamodb.TableAttributeArray{
		dynamodb.TableAttributeArgs{Name: pulumi.String(contract.SketchRouteKey), Type: pulumi.String("S")},
		dynamodb.TableAttributeArgs{Name: pulumi.String(contract.SketchMinuteKey), Type: pulumi.String("N")},
	}, contract.SketchRouteKey, contract.SketchMinuteKey)
	if err != nil {
		return nil, err
	}
	return &tables{Dedupe: dedupe, Sketches: sketches}, nil
}
