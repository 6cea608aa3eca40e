// Package dedupe makes sure a piece of work triggered from outside (a Slack
// event, a deferred slash command) is done exactly once, or else redone,
// never lost. Slack redelivers an event it thinks failed (X-Slack-Retry-Num),
// Lambda may deliver an asynchronous invocation twice, and the deliveries
// may run in different containers at the same moment, so the claim must be
// atomic where the containers meet: a DynamoDB conditional write.
//
// A claim has two states. While the work runs it is in progress, under a
// lease (Lease, 30 seconds by default: longer than the function's timeout,
// so a lease outlives any attempt that could still finish). A delivery
// that finds a live lease is told so and must come back later; one that
// finds an expired lease takes the work over, since the attempt that held
// it crashed or timed out. Once the work is done the claim is kept for TTL,
// so later redeliveries are answered as duplicates. Failed work releases
// its claim, so the next delivery redoes it.
//
// A claim has expired when its expiry second is at or before now, in whole
// Unix seconds, the way DynamoDB's TTL counts; Memory and Dynamo agree on it
// to the second.
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

// TTL is how long a done claim is kept. Slack retries an event three times
// within about an hour; a day leaves room for a slow retry and DynamoDB's
// lazy expiry.
const TTL = 24 * time.Hour

// SettleTimeout is how long the bookkeeping after a piece of work
// (Complete, Release, putting a state back) may take. It is reserved out of
// an invocation's time: work runs until the deadline less this, so the
// bookkeeping is not left to a context that has already run out.
const SettleTimeout = 2 * time.Second

// Settle returns the context of the bookkeeping after work done under ctx:
// it keeps ctx's values but neither its deadline nor its cancellation,
// which a slow Slack may have spent, and has SettleTimeout of its own.
func Settle(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
}

// State is what a claim found.
type State int

const (
	// Acquired: this caller holds the claim and must Complete or Release it.
	Acquired State = iota
	// InProgress: another delivery holds a live lease; come back later.
	InProgress
	// Done: the work was done; this delivery is a duplicate.
	Done
)

func (s State) String() string {
	switch s {
	case Acquired:
		return "acquired"
	case InProgress:
		return "in progress"
	case Done:
		return "done"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Claim is the answer to Store.Claim.
type Claim struct {
	ID    string
	State State
	// Token identifies this caller's hold, so that Complete and Release
	// act only on a claim that has not been taken over since.
	Token string
	// TakenOver says an expired in-progress lease was taken from an
	// attempt that never finished.
	TakenOver bool
}

// ErrLost is returned by Complete when the claim was taken over (its lease
// ran out) before the work was done: the work may have been done twice.
var ErrLost = errors.New("the claim was taken over by another delivery")

// Store claims work by id.
type Store interface {
	// Claim takes id for this caller if no live claim holds it.
	Claim(ctx context.Context, id string) (Claim, error)
	// Complete marks the work of an acquired claim done, kept for TTL.
	Complete(ctx context.Context, c Claim) error
	// Release forgets an acquired claim whose work failed, so that the next
	// delivery can do it. A claim since taken over is left alone.
	Release(ctx context.Context, c Claim) error
}

// Item states as stored.
const (
	stateInProgress = "in_progress"
	stateDone       = "done"
)

func clockNow(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

func leaseOrDefault(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return contract.DefaultClaimLease
}

// Memory is a Store for one process: the dev server, or tests.
type Memory struct {
	Now   func() time.Time
	Lease time.Duration // 0 means contract.DefaultClaimLease

	mu    sync.Mutex
	items map[string]memoryItem
}

type memoryItem struct {
	state   string
	token   string
	expires int64 // Unix seconds, as Dynamo stores it
}

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, id string) (Claim, error) {
	now := clockNow(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = make(map[string]memoryItem)
	}
	old, found := m.items[id]
	if found && old.expires > now.Unix() {
		if old.state == stateDone {
			return Claim{ID: id, State: Done}, nil
		}
		return Claim{ID: id, State: InProgress}, nil
	}
	// Sweep on growth only, so a long dev session stays small without a timer.
	if len(m.items) >= 10000 {
		for k, it := range m.items {
			if it.expires <= now.Unix() {
				delete(m.items, k)
			}
		}
	}
	c := Claim{ID: id, State: Acquired, Token: rand.Text(), TakenOver: found && old.state == stateInProgress}
	m.items[id] = memoryItem{state: stateInProgress, token: c.Token, expires: now.Add(leaseOrDefault(m.Lease)).Unix()}
	return c, nil
}

// Complete implements Store.
func (m *Memory) Complete(_ context.Context, c Claim) error {
	now := clockNow(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if it, ok := m.items[c.ID]; !ok || it.token != c.Token {
		return fmt.Errorf("complete %s: %w", c.ID, ErrLost)
	}
	m.items[c.ID] = memoryItem{state: stateDone, token: c.Token, expires: now.Add(TTL).Unix()}
	return nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, c Claim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if it, ok := m.items[c.ID]; ok && it.token == c.Token {
		delete(m.items, c.ID)
	}
	return nil
}

// Attribute names of the DynamoDB table; infra creates it with the same
// contract names.
const (
	keyAttr   = contract.DedupeKey
	ttlAttr   = contract.TTLAttribute
	tokenAttr = "claim" // who holds the claim; see Dynamo.Claim
	stateAttr = "state" // in_progress or done
)

// DynamoAPI is the part of the DynamoDB client Dynamo uses.
type DynamoAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Dynamo is a Store in a DynamoDB table keyed by event_id, with TTL on
// expires_at. One attribute serves as both the lease and the TTL: an
// in-progress item expires when its lease ends, a done item a TTL after the
// work, and an expired item counts as absent, since DynamoDB deletes expired
// items lazily.
type Dynamo struct {
	Client DynamoAPI
	Table  string
	Now    func() time.Time
	Lease  time.Duration // 0 means contract.DefaultClaimLease
}

func (d *Dynamo) key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{keyAttr: &types.AttributeValueMemberS{Value: id}}
}

func unix(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

// Claim implements Store with a put that succeeds only if no live claim
// exists.
//
// Each claim carries a random token. The SDK retries a put whose answer was
// lost; the retry then fails its condition against the item the first try
// wrote, and the token, returned with the failure, tells that this caller
// holds the claim after all.
func (d *Dynamo) Claim(ctx context.Context, id string) (Claim, error) {
	now := clockNow(d.Now)
	c := Claim{ID: id, State: Acquired, Token: rand.Text()}
	out, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]types.AttributeValue{
			keyAttr:   &types.AttributeValueMemberS{Value: id},
			stateAttr: &types.AttributeValueMemberS{Value: stateInProgress},
			ttlAttr:   unix(now.Add(leaseOrDefault(d.Lease))),
			tokenAttr: &types.AttributeValueMemberS{Value: c.Token},
		},
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ConditionExpression:                 aws.String("attribute_not_exists(#id) OR #exp <= :now"),
		ExpressionAttributeNames:            map[string]string{"#id": keyAttr, "#exp": ttlAttr},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": unix(now)},
	})
	var taken *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		c.TakenOver = stringAttr(out.Attributes, stateAttr) == stateInProgress
		return c, nil
	case errors.As(err, &taken):
		switch {
		case stringAttr(taken.Item, tokenAttr) == c.Token:
			return c, nil
		case stringAttr(taken.Item, stateAttr) == stateDone:
			return Claim{ID: id, State: Done}, nil
		default:
			return Claim{ID: id, State: InProgress}, nil
		}
	default:
		return Claim{}, fmt.Errorf("claim %s in %s: %w", id, d.Table, err)
	}
}

// Complete implements Store: the item becomes done, for TTL, if this
// caller still holds it.
func (d *Dynamo) Complete(ctx context.Context, c Claim) error {
	_, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.Table),
		Key:                      d.key(c.ID),
		UpdateExpression:         aws.String("SET #state = :done, #exp = :exp"),
		ConditionExpression:      aws.String("#claim = :token"),
		ExpressionAttributeNames: map[string]string{"#state": stateAttr, "#exp": ttlAttr, "#claim": tokenAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done":  &types.AttributeValueMemberS{Value: stateDone},
			":exp":   unix(clockNow(d.Now).Add(TTL)),
			":token": &types.AttributeValueMemberS{Value: c.Token},
		},
	})
	var taken *types.ConditionalCheckFailedException
	if errors.As(err, &taken) {
		return fmt.Errorf("complete %s in %s: %w", c.ID, d.Table, ErrLost)
	}
	if err != nil {
		return fmt.Errorf("complete %s in %s: %w", c.ID, d.Table, err)
	}
	return nil
}

// Release implements Store.
func (d *Dynamo) Release(ctx context.Context, c Claim) error {
	_, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.Table),
		Key:                       d.key(c.ID),
		ConditionExpression:       aws.String("#claim = :token"),
		ExpressionAttributeNames:  map[string]string{"#claim": tokenAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": &types.AttributeValueMemberS{Value: c.Token}},
	})
	var taken *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &taken) {
		return fmt.Errorf("release %s in %s: %w", c.ID, d.Table, err)
	}
	return nil
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
