package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Grants on the installations table and its key. The events function
// reads an installation, writes it (a token refresh) and deletes it (an
// uninstall: app_uninstalled, tokens_revoked); the commands function reads
// and writes (a new install, a refresh); the percentiles function reads and
// refreshes the report workspace's. Every write encrypts the tokens with
// the key, every read decrypts them.
var (
	installActions  = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
	refreshActions  = []string{"dynamodb:GetItem", "dynamodb:PutItem"}
	tokenKeyActions = []string{"kms:Encrypt", "kms:Decrypt"}
)

// installs is where the workspaces that installed the app by OAuth are
// kept: a table with one item per workspace (or org), whose bot and
// refresh tokens are encrypted by a key of this stack, each bound to its
// item with the encryption context.
type installs struct {
	Table *dynamodb.Table
	Key   *kms.Key
}

func newInstalls(ctx *pulumi.Context, prefix string) (*installs, error) {
	key, err := kms.NewKey(ctx, "tokens", &kms.KeyArgs{
		Description:          pulumi.Sprintf("Encrypts the Slack bot tokens of %s's installations", prefix),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
	})
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	// No TTL: an installation lasts until the workspace removes the app.
	table, err := dynamodb.NewTable(ctx, "installations", &dynamodb.TableArgs{
		BillingMode: pulumi.String("PAY_PER_REQUEST"),
		HashKey:     pulumi.String(contract.InstallationKey),
		Attributes: dynamodb.TableAttributeArray{
			dynamodb.TableAttributeArgs{Name: pulumi.String(contract.InstallationKey), Type: pulumi.String("S")},
		},
		PointInTimeRecovery: &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("table installations: %w", err)
	}
	return &installs{Table: table, Key: key}, nil
}

// grants lets a function use the table with actions, and the key.
func (i *installs) grants(actions []string) []grant {
	return []grant{
		{Sid: "Installations", Actions: actions, Resources: []pulumi.StringInput{i.Table.Arn}},
		{Sid: "InstallationTokens", Actions: tokenKeyActions, Resources: []pulumi.StringInput{i.Key.Arn}},
	}
}

// env names the table and the key to a function.
func (i *installs) env() map[string]pulumi.StringInput {
	return map[string]pulumi.StringInput{
		contract.EnvInstallationsTable: i.Table.Name,
		contract.EnvTokenKey:           i.Key.Arn,
	}
}
