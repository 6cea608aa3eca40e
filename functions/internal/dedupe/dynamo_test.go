package dedupe_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo/dynamotest"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// moto is one moto server for the package's tests; each test makes its own
// table, so tests never see each other's claims.
var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

// newTable creates a dedupe table the way infra does and returns a client
// and its name.
func newTable(t *testing.T) (*dynamodb.Client, string) { return moto.Get(t).DedupeTable(t) }

// item reads the claim of id, or nil.
func item(t *testing.T, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	return testenv.DedupeItem(t, db, table, id)
}

func expiresAt(t *testing.T, it map[string]types.AttributeValue) int64 {
	t.Helper()
	n, ok := it["expires_at"].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("expires_at = %#v, want a number (DynamoDB TTL reads only numbers)", it["expires_at"])
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatalf("expires_at %q: %v", n.Value, err)
	}
	return v
}

func TestDynamo(t *testing.T) {
	_, table := newTable(t)
	for i, tt := range storeSteps {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{}
			store := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table, Now: c.Now, Lease: lease}
			runSteps(t, store, c, fmt.Sprintf("case%d-", i), tt.steps)
		})
	}
}

func TestDynamoWritesLeaseThenTTL(t *testing.T) {
	db, table := newTable(t)
	c := &clock{now: t0}
	store := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table, Now: c.Now, Lease: lease}
	ctx := context.Background()
	claim, err := store.Claim(ctx, "Ev1")
	if err != nil || claim.State != dedupe.Acquired {
		t.Fatalf("Claim = %v, %v; want acquired", claim.State, err)
	}
	it := item(t, db, table, "Ev1")
	if it == nil {
		t.Fatal("Claim wrote no item")
	}
	if id, ok := it["event_id"].(*types.AttributeValueMemberS); !ok || id.Value != "Ev1" {
		t.Errorf("event_id = %#v, want S Ev1", it["event_id"])
	}
	if st, ok := it["state"].(*types.AttributeValueMemberS); !ok || st.Value != "in_progress" {
		t.Errorf("state = %#v, want S in_progress", it["state"])
	}
	if got, want := expiresAt(t, it), t0.Add(lease).Unix(); got != want {
		t.Errorf("in progress: expires_at = %d, want %d (claim time + lease, Unix seconds)", got, want)
	}

	c.Set(t0.Add(5 * time.Second))
	if err := store.Complete(ctx, claim); err != nil {
		t.Fatal(err)
	}
	it = item(t, db, table, "Ev1")
	if st, ok := it["state"].(*types.AttributeValueMemberS); !ok || st.Value != "done" {
		t.Errorf("state = %#v, want S done", it["state"])
	}
	if got, want := expiresAt(t, it), t0.Add(5*time.Second+dedupe.TTL).Unix(); got != want {
		t.Errorf("done: expires_at = %d, want %d (completion time + TTL)", got, want)
	}

	again, err := store.Claim(ctx, "Ev2")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Release(ctx, again); err != nil {
		t.Fatal(err)
	}
	if it := item(t, db, table, "Ev2"); it != nil {
		t.Errorf("Release left the item %v", it)
	}
}

// TestDynamoCrashAfterClaim is the lost event: the first delivery claims the
// event and its container dies. Slack's retry inside the lease is told to
// come back; the retry after it takes the work over and completes it.
func TestDynamoCrashAfterClaim(t *testing.T) {
	_, table := newTable(t)
	ctx := context.Background()
	c := &clock{now: t0}
	crashed := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table, Now: c.Now, Lease: lease}
	if got, err := crashed.Claim(ctx, "EvCrash"); err != nil || got.State != dedupe.Acquired {
		t.Fatalf("first delivery: %v, %v", got.State, err)
	}
	// ... and nothing more from it. Slack retries at once, then a minute later.
	retry := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table, Now: c.Now, Lease: lease}
	c.Set(t0.Add(3 * time.Second))
	if got, err := retry.Claim(ctx, "EvCrash"); err != nil || got.State != dedupe.InProgress {
		t.Fatalf("retry inside the lease: %v, %v; want in progress", got.State, err)
	}
	c.Set(t0.Add(time.Minute))
	got, err := retry.Claim(ctx, "EvCrash")
	if err != nil || got.State != dedupe.Acquired || !got.TakenOver {
		t.Fatalf("retry after the lease: %+v, %v; want acquired, taken over", got, err)
	}
	if err := retry.Complete(ctx, got); err != nil {
		t.Fatalf("complete the taken-over claim: %v", err)
	}
	c.Set(t0.Add(6 * time.Minute))
	if got, err := retry.Claim(ctx, "EvCrash"); err != nil || got.State != dedupe.Done {
		t.Fatalf("the last retry: %v, %v; want done", got.State, err)
	}
}

// TestDynamoExpiredItem covers the item DynamoDB has not yet deleted though
// its TTL has passed: it must not block a new claim.
func TestDynamoExpiredItem(t *testing.T) {
	db, table := newTable(t)
	ctx := context.Background()
	now := time.Now()
	put := func(id string, expires time.Time) {
		t.Helper()
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"event_id":   &types.AttributeValueMemberS{Value: id},
				"state":      &types.AttributeValueMemberS{Value: "done"},
				"expires_at": &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("expired", now.Add(-time.Minute))
	put("live", now.Add(time.Minute))

	store := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table} // wall clock
	tests := []struct {
		id   string
		want dedupe.State
	}{
		{"expired", dedupe.Acquired},
		{"expired", dedupe.InProgress}, // claimed again, now under a lease
		{"live", dedupe.Done},
	}
	for _, tt := range tests {
		got, err := store.Claim(ctx, tt.id)
		if err != nil {
			t.Fatalf("Claim(%s): %v", tt.id, err)
		}
		if got.State != tt.want {
			t.Errorf("Claim(%s) = %v, want %v", tt.id, got.State, tt.want)
		}
	}

	// A later container whose clock is past the live item's expiry.
	later := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table, Now: func() time.Time { return now.Add(2 * time.Minute) }}
	if got, err := later.Claim(ctx, "live"); err != nil || got.State != dedupe.Acquired {
		t.Errorf("Claim(live) after its expiry = %v, %v; want acquired", got.State, err)
	}
}

func TestDynamoErrorsAreNotDuplicates(t *testing.T) {
	newTable(t) // starts the shared server
	store := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: "no-such-table"}
	got, err := store.Claim(context.Background(), "Ev1")
	if err == nil {
		t.Fatalf("Claim on a missing table = %v, nil; want an error", got.State)
	}
	if !strings.Contains(err.Error(), "no-such-table") || !strings.Contains(err.Error(), "Ev1") {
		t.Errorf("error %q does not name the table and event", err)
	}
	var nf *dynamo.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("error %v does not wrap ResourceNotFoundException", err)
	}
	if err := store.Release(context.Background(), dedupe.Claim{ID: "Ev1", Token: "t"}); err == nil {
		t.Error("Release on a missing table succeeded")
	}
	if err := store.Complete(context.Background(), dedupe.Claim{ID: "Ev1", Token: "t"}); err == nil || errors.Is(err, dedupe.ErrLost) {
		t.Errorf("Complete on a missing table = %v, want an error that is not ErrLost", err)
	}
}

// TestDynamoConcurrentClaims is the reason the store exists: Slack's
// redeliveries of one event, running in different Lambda containers at the
// same moment, must produce exactly one winner.
func TestDynamoConcurrentClaims(t *testing.T) {
	db, table := newTable(t)
	store := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table}
	for round := range 5 {
		id := fmt.Sprintf("Ev0CONCURRENT%d", round)
		won, errs := claimAtOnce(store, id, 16)
		if len(errs) != 0 {
			t.Fatalf("16 concurrent Claim(%s): errors %v", id, errs)
		}
		if won != 1 {
			t.Fatalf("16 concurrent Claim(%s): %d won, want exactly 1 (and 15 duplicates)", id, won)
		}
		if item(t, db, table, id) == nil {
			t.Fatalf("no item for %s after the claims", id)
		}
	}
}

// lostAnswer forwards PutItem twice, as a client does when the first answer
// is lost on the way back, and returns only the second answer.
type lostAnswer struct{ *dynamo.Client }

func (l lostAnswer) PutItem(ctx context.Context, in *dynamo.PutItemInput) (*dynamo.PutItemOutput, error) {
	if _, err := l.Client.PutItem(ctx, in); err != nil {
		return nil, err
	}
	return l.Client.PutItem(ctx, in)
}

func TestDynamoRetriedPutKeepsTheClaim(t *testing.T) {
	_, table := newTable(t)
	d := &dedupe.Dynamo{Client: lostAnswer{dynamotest.Client(t, moto.Get(t))}, Table: table}
	first, err := d.Claim(context.Background(), "EvLost")
	if err != nil || first.State != dedupe.Acquired {
		t.Fatalf("Claim with a retried put = %v, %v; want acquired: the claim is this caller's", first.State, err)
	}
	// Another caller still loses.
	other := &dedupe.Dynamo{Client: dynamotest.Client(t, moto.Get(t)), Table: table}
	if again, err := other.Claim(context.Background(), "EvLost"); err != nil || again.State != dedupe.InProgress {
		t.Fatalf("second caller's Claim = %v, %v; want in progress", again.State, err)
	}
	if err := d.Complete(context.Background(), first); err != nil {
		t.Fatalf("the retried put's claim cannot complete: %v", err)
	}
}
