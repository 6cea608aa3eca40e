package testenv

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/contract"
)

var tableSeq atomic.Int64

// DedupeTable creates a dedupe table under a name no other table of this
// process has, so tests sharing a server never see each other's claims. It
// returns a client and the table's name.
func (m *Moto) DedupeTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	name := fmt.Sprintf("dedupe-%d", tableSeq.Add(1))
	return m.CreateDedupeTable(t, name), name
}

// CreateDedupeTable creates the dedupe table name the way infra/ does (hash
// key contract.DedupeKey, on demand, TTL on contract.TTLAttribute) and
// returns a client for it.
func (m *Moto) CreateDedupeTable(t testing.TB, name string) *dynamodb.Client {
	t.Helper()
	ctx := context.Background()
	cfg, err := m.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(contract.DedupeKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(contract.DedupeKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(contract.TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil {
		t.Fatalf("enable TTL on %s: %v", name, err)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe TTL of %s: %v", name, err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != contract.TTLAttribute {
		t.Fatalf("TTL of %s = %+v, want enabled on %s", name, d, contract.TTLAttribute)
	}
	return db
}

// DedupeItem reads the claim on id with a strongly consistent read, or nil
// when there is none.
func DedupeItem(t testing.TB, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{contract.DedupeKey: &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return out.Item
}

// SketchTable creates a sketch table under a name no other table of this
// process has, and returns a client and the table's name.
func (m *Moto) SketchTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	cfg, err := m.AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db, name := dynamodb.NewFromConfig(cfg), fmt.Sprintf("sketches-%d", tableSeq.Add(1))
	CreateSketchTable(t, db, name)
	return db, name
}

// CreateSketchTable creates the sketch table name through db the way
// infra/ does: hash key contract.SketchRouteKey, range key
// contract.SketchMinuteKey, on demand, TTL on contract.TTLAttribute. The
// alert state lives in the same table.
func CreateSketchTable(t testing.TB, db *dynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(contract.SketchRouteKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(contract.SketchMinuteKey), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(contract.SketchRouteKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(contract.SketchMinuteKey), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(contract.TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil {
		t.Fatalf("enable TTL on %s: %v", name, err)
	}
}
