package alerts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"

	"github.com/lambda-slackbot/slackbot/contract"
)

// MemoryState is the State of a run without DynamoDB (the dev server, local
// runs), where the sketches live in memory too.
type MemoryState struct {
	mu     sync.Mutex
	status map[string]Status
}

// Change implements State.
func (m *MemoryState) Change(_ context.Context, id string, from []Status, to Status, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(from, m.status[id]) {
		return false, nil
	}
	if m.status == nil {
		m.status = map[string]Status{}
	}
	m.status[id] = to
	return true, nil
}

// DynamoAPI is the part of *dynamo.Client the DynamoState calls.
type DynamoAPI interface {
	PutItem(ctx context.Context, in *dynamo.PutItemInput) (*dynamo.PutItemOutput, error)
}

// DynamoState keeps each rule's status in the sketch table, one item per
// rule under the hash key statePrefix + the rule's id and range key 0. The
// sketch table rather than a table of its own: the percentiles function
// already reads and writes it, so the state adds no table, no grant and no
// setting, and its keys cannot meet a route's ('#' starts none).
//
// A change is one PutItem conditioned on the status it changes from, so of
// the ingests that see the same change at once, exactly one succeeds and
// posts; there is no read to race with. Each write carries a token of its
// own: a put that was applied but whose answer was lost is retried (by the
// client, on a 5xx or a dropped connection) and refused by its own first
// write, and only the token the refusal returns tells that from a change another
// invocation made, so the alert is not lost.
type DynamoState struct {
	Client DynamoAPI
	Table  string
}

const (
	statePrefix    = "#alert "
	attrStatus     = "status"
	attrChangedAt  = "changed_at"
	attrWriter     = "writer"
	stateRetention = 400 * 24 * time.Hour // a rule removed from the config leaves its item for TTL
)

// Change implements State.
func (d *DynamoState) Change(ctx context.Context, id string, from []Status, to Status, at time.Time) (bool, error) {
	names := map[string]string{"#st": attrStatus}
	values := map[string]dynamo.AttributeValue{}
	var cond string
	for i, f := range from {
		if cond != "" {
			cond += " OR "
		}
		if f == "" {
			cond += "attribute_not_exists(#st)"
			continue
		}
		k := ":from" + strconv.Itoa(i)
		values[k] = &dynamo.AttributeValueMemberS{Value: string(f)}
		cond += "#st = " + k
	}
	token := rand.Text()
	in := &dynamo.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]dynamo.AttributeValue{
			contract.SketchRouteKey:  &dynamo.AttributeValueMemberS{Value: statePrefix + id},
			contract.SketchMinuteKey: &dynamo.AttributeValueMemberN{Value: "0"},
			attrStatus:               &dynamo.AttributeValueMemberS{Value: string(to)},
			attrChangedAt:            &dynamo.AttributeValueMemberN{Value: strconv.FormatInt(at.Unix(), 10)},
			attrWriter:               &dynamo.AttributeValueMemberS{Value: token},
			contract.TTLAttribute:    &dynamo.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(stateRetention).Unix(), 10)},
		},
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: names,
		// A refusal carries the item it met, so whether our own earlier
		// attempt wrote it needs no second read.
		ReturnValuesOnConditionCheckFailure: dynamo.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if len(values) > 0 {
		in.ExpressionAttributeValues = values
	}
	_, err := d.Client.PutItem(ctx, in)
	var lost *dynamo.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &lost):
		w, _ := lost.Item[attrWriter].(*dynamo.AttributeValueMemberS)
		return w != nil && w.Value == token, nil
	}
	return false, fmt.Errorf("alert state %s in %s: %w", id, d.Table, err)
}
