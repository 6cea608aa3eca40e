package sketchstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo/dynamotest"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// One moto server serves the package's tests, started by the first test
// that needs it, so fuzzing and benchmarks do not pay for it.
var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

func dynamoClient(t *testing.T) *dynamo.Client { return dynamotest.Client(t, moto.Get(t)) }

// sketchTable creates a table with the schema infra/ creates, under a name
// of its own so tests need not reset the shared server.
func sketchTable(t *testing.T, _ *dynamo.Client) string {
	t.Helper()
	_, name := moto.Get(t).SketchTable(t)
	return name
}

func TestDynamoStore(t *testing.T) {
	client := dynamoClient(t)
	storeContract(t, func(t *testing.T) Store { return newDynamo(client, sketchTable(t, client)) })
}

func TestDynamoStoreItemLayout(t *testing.T) {
	ctx := context.Background()
	client := dynamoClient(t)
	table := sketchTable(t, client)
	s := newDynamo(client, table)
	k := Key{"", "POST /slack/events", batchTime.Unix()}
	for _, b := range []string{"a", "b", "a"} {
		if err := s.Merge(ctx, b, map[Key]*Sketches{k: part(10, 20)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table), Key: tableKey(k.Route, k.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	n := func(name string) string {
		v, _ := out.Item[name].(*dynamo.AttributeValueMemberN)
		if v == nil {
			return "<missing>"
		}
		return v.Value
	}
	if got, want := n(contract.TTLAttribute), strconv.FormatInt(k.Minute+int64(Minute.Retention()/time.Second), 10); got != want {
		t.Errorf("%s = %s, want %s (the minute plus %s)", contract.TTLAttribute, got, want, Minute.Retention())
	}
	if got := n(attrRequests); got != "4" {
		t.Errorf("requests %s, want 4", got)
	}
	// The hour and the day hold the same, each with its own expiry.
	for _, l := range []Level{Hour, Day} {
		r, err := client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table), Key: tableKey(partition(l, k.Route), l.Start(k.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		sk, err := decodeSketches(r.Item)
		exp, _ := r.Item[contract.TTLAttribute].(*dynamo.AttributeValueMemberN)
		if err != nil || sk.Response.GetCount() != 4 || exp == nil || exp.Value != strconv.FormatInt(l.Start(k.Minute)+int64(l.Retention()/time.Second), 10) {
			t.Errorf("%s item: %v values, expiry %v, %v; want 4 values, its start plus %s", l, sk.Response.GetCount(), exp, err, l.Retention())
		}
	}
	if got := n(attrVersion); got != "2" {
		t.Errorf("version %s, want 2: two writes, the retry skipped", got)
	}
	if b, _ := out.Item[attrBatches].(*dynamo.AttributeValueMemberB); b == nil || len(b.Value) != 2*batchKeyLen {
		t.Errorf("batches: %v, want two keys", out.Item[attrBatches])
	}
	for _, a := range []string{attrResponse, attrIntegration} {
		b, _ := out.Item[a].(*dynamo.AttributeValueMemberB)
		if b == nil {
			t.Fatalf("no %s", a)
		}
		sk, err := DecodeSketch(b.Value)
		if err != nil || sk.GetCount() != 4 {
			t.Errorf("%s: %v values, %v; want 4", a, sk.GetCount(), err)
		}
	}
	reg, err := client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table), Key: tableKey(registryRoute, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if ss, _ := reg.Item[attrRoutes].(*dynamo.AttributeValueMemberSS); ss == nil || len(ss.Value) != 1 || ss.Value[0] != k.Route {
		t.Errorf("route registry: %v, want [%s]", reg.Item[attrRoutes], k.Route)
	}
}

// countingClient counts the optimistic lock's lost races, to show that a
// concurrency test really made writers collide. The test's moto serves one
// request at a time (testenv's launcher), so a conditional put is atomic as
// in DynamoDB.
type countingClient struct {
	*dynamo.Client
	lost atomic.Int64
}

func (c *countingClient) PutItem(ctx context.Context, in *dynamo.PutItemInput) (*dynamo.PutItemOutput, error) {
	out, err := c.Client.PutItem(ctx, in)
	var ccf *dynamo.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		c.lost.Add(1)
	}
	return out, err
}

// Many Lambda invocations write the same route-minute at once; none of their
// samples may be lost, and a retry racing its original must count once.
func TestDynamoStoreConcurrentWriters(t *testing.T) {
	const writers = 32
	const perWriter = 50
	for _, c := range []struct {
		name    string
		batches int // distinct batch ids among the writers; the rest are retries
	}{
		{"32 distinct batches", writers},
		{"16 batches, each with a retry racing it", writers / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			client := &countingClient{Client: dynamoClient(t)}
			table := sketchTable(t, client.Client)
			k := Key{"", "POST /slack/events", batchTime.Unix()}
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					// A store per writer, as each Lambda container has its own.
					s := newDynamo(client, table)
					p := NewSketches()
					b := i % c.batches
					for j := range perWriter {
						_ = p.Response.Add(float64(1 + b*perWriter + j))
					}
					<-start
					errs <- s.Merge(ctx, fmt.Sprint("batch-", b), map[Key]*Sketches{k: p})
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := Range(ctx, newDynamo(client, table), "", batchTime, batchTime.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			sum := Summarize(got[k.Route].Response)
			if want := int64(c.batches * perWriter); sum.Count != want || sum.Max != float64(want) {
				t.Errorf("merged count %d, max %v; want %d and %d", sum.Count, sum.Max, want, want)
			}
			t.Logf("%d writers, %d lost races retried", writers, client.lost.Load())
			if client.lost.Load() == 0 {
				t.Error("no writer ever lost a race: the test did not exercise concurrency")
			}
		})
	}
}

// absentBarrier holds every writer that finds the watched item absent until
// all of them have, so they all race to create it: the first write's
// attribute_not_exists condition is then all that keeps one writer's
// samples from overwriting another's. (Without the barrier one writer
// creates the item before the others read it, and the condition is never
// put to the test.)
type absentBarrier struct {
	*countingClient
	hash    string // the hash key of the watched item
	writers int

	mu      sync.Mutex
	waiting int
	release chan struct{}
	absent  atomic.Int64
}

func (b *absentBarrier) GetItem(ctx context.Context, in *dynamo.GetItemInput) (*dynamo.GetItemOutput, error) {
	out, err := b.countingClient.GetItem(ctx, in)
	if err != nil || len(out.Item) > 0 || in.Key[attrRoute].(*dynamo.AttributeValueMemberS).Value != b.hash {
		return out, err
	}
	b.absent.Add(1)
	b.mu.Lock()
	b.waiting++
	if b.waiting == b.writers {
		close(b.release)
	}
	b.mu.Unlock()
	select {
	case <-b.release:
	case <-time.After(10 * time.Second):
		// Not an assertion: a writer that retried after losing never
		// reads the item absent again, so never count on the last arrival.
	case <-ctx.Done():
	}
	return out, nil
}

// TestDynamoStoreFirstWriteRace: writers that all found an item absent race
// to create it. Exactly one may; the others must lose the condition, read
// again and merge. Checked for a fresh minute, and for a fresh hour and day
// that writers of different minutes create together.
func TestDynamoStoreFirstWriteRace(t *testing.T) {
	const writers, perWriter = 8, 20
	for _, c := range []struct {
		name    string
		watched func(route string) string // the hash key of the raced item
		minute  func(i int) int64         // the minute writer i writes
		level   Level
	}{
		{"fresh minute", func(r string) string { return r }, func(int) int64 { return batchTime.Unix() }, Minute},
		{"fresh hour rollup", func(r string) string { return partition(Hour, r) }, func(i int) int64 { return batchTime.Unix() + int64(i)*60 }, Hour},
		{"fresh day rollup", func(r string) string { return partition(Day, r) }, func(i int) int64 { return batchTime.Unix() + int64(i)*3600 }, Day},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			const route = "POST /slack/events"
			counting := &countingClient{Client: dynamoClient(t)}
			table := sketchTable(t, counting.Client)
			client := &absentBarrier{countingClient: counting, hash: c.watched(route), writers: writers, release: make(chan struct{})}
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					p := NewSketches()
					for j := range perWriter {
						_ = p.Response.Add(float64(1 + i*perWriter + j))
						p.CountStatus(200)
					}
					errs <- newDynamo(client, table).Merge(ctx, fmt.Sprint("batch-", i), map[Key]*Sketches{{"", route, c.minute(i)}: p})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := client.absent.Load(); n < writers {
				t.Fatalf("only %d reads found the item absent, want all %d writers racing on it", n, writers)
			}
			out, err := counting.Client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table),
				Key: tableKey(c.watched(route), c.level.Start(batchTime.Unix())), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			sk, err := decodeSketches(out.Item)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := int64(sk.Response.GetCount()), int64(writers*perWriter); got != want || sk.Requests != want {
				t.Errorf("the %s holds %d values and %d requests, want %d: a first write overwrote another", c.level, got, sk.Requests, want)
			}
			if counting.lost.Load() < writers-1 {
				t.Errorf("%d lost races, want at least %d: every writer but one must lose the first write", counting.lost.Load(), writers-1)
			}
		})
	}
}

func TestDynamoStoreRangeOfAnEmptyTable(t *testing.T) {
	client := dynamoClient(t)
	got, err := Range(context.Background(), newDynamo(client, sketchTable(t, client)), "", batchTime, batchTime.Add(time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("Range = %v, %v; want nothing", got, err)
	}
}

func TestDynamoStoreMissingTable(t *testing.T) {
	client := dynamoClient(t)
	s := newDynamo(client, "no-such-table")
	err := s.Merge(context.Background(), "a", map[Key]*Sketches{{"", "GET /a", batchTime.Unix()}: part(1)})
	var rnf *dynamo.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("Merge error = %v, want ResourceNotFoundException", err)
	}
	if _, err := Range(context.Background(), s, "", batchTime, batchTime.Add(time.Hour)); !errors.As(err, &rnf) {
		t.Errorf("Range error = %v, want ResourceNotFoundException", err)
	}
}

func TestAppendBatchBound(t *testing.T) {
	var ring []byte
	key := func(i int) []byte {
		k := make([]byte, batchKeyLen)
		copy(k, fmt.Sprint(i))
		return k
	}
	limit := maxBatches(Minute)
	for i := range limit + 5 {
		ring = appendBatch(ring, key(i), limit)
	}
	if len(ring) != limit*batchKeyLen {
		t.Fatalf("ring holds %d bytes, want %d", len(ring), limit*batchKeyLen)
	}
	for i := range limit + 5 {
		if want := i >= 5; hasBatch(ring, key(i)) != want {
			t.Errorf("batch %d remembered: %v, want %v", i, !want, want)
		}
	}
}

func TestBackoffStaysBounded(t *testing.T) {
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		for range 100 {
			if d := backoff(attempt); d <= 0 || d > 501*time.Millisecond {
				t.Fatalf("backoff(%d) = %v, want (0, 501ms]", attempt, d)
			}
		}
	}
}

// A route's minutes may span many Query pages; Range must read them all.
func TestDynamoStoreRangeFollowsPages(t *testing.T) {
	fake := dynamotest.NewStandIn(contract.SketchRouteKey, contract.SketchMinuteKey)
	fake.PageBytes = 2000
	s := newDynamo(fake, "t")
	parts := map[Key]*Sketches{}
	for m := range int64(100) {
		parts[Key{"", "GET /a", batchTime.Unix() + m*60}] = part(float64(m + 1))
	}
	if err := s.Merge(context.Background(), "", parts); err != nil {
		t.Fatal(err)
	}
	fake.Queries = 0
	// 13:10 to 14:30 holds no whole hour: 80 minute items.
	got, err := Range(context.Background(), s, "", batchTime.Add(10*time.Minute), batchTime.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	sum := Summarize(got["GET /a"].Response)
	if sum.Count != 80 || sum.Max != 90 || fake.Queries < 3 {
		t.Errorf("count %d, max %v after %d pages; want 80 minutes up to 90 over several pages", sum.Count, sum.Max, fake.Queries)
	}
}

// Containers of one source admit routes at once; however they interleave,
// the source ends with exactly its limit of routes, every container's
// answer is among them, and a route one container was told is admitted is
// admitted for all.
func TestDynamoStoreAdmitAcrossContainers(t *testing.T) {
	const (
		stores = 8
		limit  = 25
	)
	ctx := context.Background()
	client := dynamoClient(t)
	table := sketchTable(t, client)
	counting := &countingUpdates{Client: client}
	answers := make([][]string, stores)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s := newDynamo(counting, table)
			// Each asks for 10 routes, half shared with its neighbour, in
			// two calls, as two batches would.
			var routes []string
			for j := range 10 {
				routes = append(routes, fmt.Sprintf("GET /r%d", i*5+j))
			}
			for _, part := range [][]string{routes[:5], routes[5:]} {
				got, err := s.Admit(ctx, "web", part, limit)
				if err != nil {
					t.Error(err)
					return
				}
				answers[i] = append(answers[i], got...)
			}
		})
	}
	wg.Wait()
	out, err := client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table), Key: tableKey(admittedKey("web"), 0), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	ss, _ := out.Item[attrRoutes].(*dynamo.AttributeValueMemberSS)
	if ss == nil || len(ss.Value) != limit {
		t.Fatalf("admitted item: %v, want %d routes", out.Item[attrRoutes], limit)
	}
	stored := map[string]bool{}
	for _, r := range ss.Value {
		stored[r] = true
	}
	union := map[string]bool{}
	for i, a := range answers {
		for _, r := range a {
			if !stored[r] {
				t.Errorf("store %d was told %s is admitted; the table does not list it", i, r)
			}
			union[r] = true
		}
	}
	if len(union) != limit {
		t.Errorf("%d distinct routes admitted across the stores, want %d", len(union), limit)
	}
	// A fresh container agrees with the table, and admits nothing more.
	got, err := newDynamo(client, table).Admit(ctx, "web", []string{"GET /new", ss.Value[0]}, limit)
	if err != nil || !slices.Equal(got, []string{ss.Value[0]}) {
		t.Errorf("a fresh store's Admit = %v, %v; want only %s", got, err, ss.Value[0])
	}
	if counting.lost.Load() == 0 {
		t.Log("no container lost a race this run; the limit held without contention")
	}
}

// countingUpdates counts conditional updates that lost a race.
type countingUpdates struct {
	*dynamo.Client
	lost atomic.Int64
}

func (c *countingUpdates) UpdateItem(ctx context.Context, in *dynamo.UpdateItemInput) (*dynamo.UpdateItemOutput, error) {
	out, err := c.Client.UpdateItem(ctx, in)
	var ccf *dynamo.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		c.lost.Add(1)
	}
	return out, err
}

// The bot's own items keep the keys they had before sources; another
// source's are behind its name, so neither can read the other's.
func TestDynamoStoreKeysOfSources(t *testing.T) {
	ctx := context.Background()
	client := dynamoClient(t)
	table := sketchTable(t, client)
	s := newDynamo(client, table)
	m := batchTime.Unix()
	err := s.Merge(ctx, "b", map[Key]*Sketches{{"", "POST /slack/events", m}: part(1), {"orders", "POST /slack/events", m}: part(2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		want int64
	}{
		{"POST /slack/events", 1},
		{"@orders POST /slack/events", 2},
		{"#hour @orders POST /slack/events", 2},
	} {
		start := m
		if strings.HasPrefix(c.key, "#hour") {
			start = Hour.Start(m)
		}
		out, err := client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table), Key: tableKey(c.key, start)})
		if err != nil {
			t.Fatal(err)
		}
		sk, err := decodeSketches(out.Item)
		if err != nil || sk.Requests != c.want {
			t.Errorf("item %q: %d requests, %v; want %d", c.key, sk.Requests, err, c.want)
		}
	}
	for _, key := range []string{"#routes", "@orders #routes"} {
		out, _ := client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(table), Key: tableKey(key, 0)})
		if ss, _ := out.Item[attrRoutes].(*dynamo.AttributeValueMemberSS); ss == nil || len(ss.Value) != 1 || ss.Value[0] != "POST /slack/events" {
			t.Errorf("registry %q: %v, want [POST /slack/events]", key, out.Item[attrRoutes])
		}
	}
}
