// Package dedupe makes sure a Slack event is acted on at most once. Slack
// redelivers an event it thinks failed (X-Slack-Retry-Num), and Lambda may run
// the deliveries in different containers at the same moment, so the claim must
// be atomic where the containers meet: a DynamoDB conditional put.
package dedupe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/contract"
)

// TTL is how long a claim is kept. Slack retries an event three times within
// about an hour; a day leaves room for a slow retry and DynamoDB's lazy expiry.
const TTL = 24 * time.Hour

// Store claims event ids.
type Store interface {
	// Claim records id and reports whether this caller is the first.
	Claim(ctx context.Context, id string) (bool, error)
	// Release forgets a claim whose work failed, so Slack's retry can do it.
	Release(ctx context.Context, id string) error
}

// Memory is a Store for one process: the dev server, or tests.
type Memory struct {
	Now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // id -> expiry
}

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, id string) (bool, error) {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = make(map[string]time.Time)
	}
	if exp, ok := m.seen[id]; ok && now.Before(exp) {
		return false, nil
	}
	// Sweep on growth only, so a long dev session stays small without a timer.
	if len(m.seen) >= 10000 {
		for k, exp := range m.seen {
			if !now.Before(exp) {
				delete(m.seen, k)
			}
		}
	}
	m.seen[id] = now.Add(TTL)
	return true, nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, id)
	return nil
}

// Attribute names of the DynamoDB table; infra creates it with the same
// contract names.
const (
	KeyAttr   = contract.DedupeKey
	TTLAttr   = contract.TTLAttribute
	TokenAttr = "claim" // who holds the claim; see Claim
)

// DynamoAPI is the part of the DynamoDB client Dynamo uses.
type DynamoAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Dynamo is a Store in a DynamoDB table keyed by event_id, with TTL on
// expires_at.
type Dynamo struct {
	Client DynamoAPI
	Table  string
	Now    func() time.Time
}

// Claim implements Store with a put that succeeds only if no live claim
// exists. DynamoDB deletes expired items lazily, so an item past its
// expires_at counts as absent.
//
// Each claim carries a random token. The SDK retries a put whose answer was
// lost; the retry then fails its condition against the item the first try
// wrote, and the token, returned with the failure, tells that this caller
// holds the claim after all.
func (d *Dynamo) Claim(ctx context.Context, id string) (bool, error) {
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	token := rand.Text()
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]types.AttributeValue{
			KeyAttr:   &types.AttributeValueMemberS{Value: id},
			TTLAttr:   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(TTL).Unix(), 10)},
			TokenAttr: &types.AttributeValueMemberS{Value: token},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ConditionExpression:                 aws.String("attribute_not_exists(#id) OR #exp < :now"),
		ExpressionAttributeNames:            map[string]string{"#id": KeyAttr, "#exp": TTLAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
		},
	})
	var taken *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &taken):
		held, ok := taken.Item[TokenAttr].(*types.AttributeValueMemberS)
		return ok && held.Value == token, nil
	default:
		return false, fmt.Errorf("claim event %s in %s: %w", id, d.Table, err)
	}
}

// Release implements Store.
func (d *Dynamo) Release(ctx context.Context, id string) error {
	_, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.Table),
		Key:       map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil {
		return fmt.Errorf("release event %s in %s: %w", id, d.Table, err)
	}
	return nil
}
