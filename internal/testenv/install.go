package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/lambda-slackbot/slackbot/contract"
)

// InstallationsTable creates an installations table the way infra/ does
// (hash key contract.InstallationKey, on demand) under a name of its own,
// and a KMS key for its tokens. It returns the clients, the table's name
// and the key's ID.
func (m *Moto) InstallationsTable(t testing.TB) (db *dynamodb.Client, kc *kms.Client, table, keyID string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := m.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	table = fmt.Sprintf("installations-%d", tableSeq.Add(1))
	db = dynamodb.NewFromConfig(cfg)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(contract.InstallationKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(contract.InstallationKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", table, err)
	}
	kc = kms.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("slackbot tokens (test)")})
	if err != nil {
		t.Fatalf("create KMS key: %v", err)
	}
	return db, kc, table, aws.ToString(key.KeyMetadata.KeyId)
}
