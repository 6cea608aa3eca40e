package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo/dynamotest"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

// stateTable is a table with the sketch table's schema, as infra/ makes it.
func stateTable(t *testing.T) (*dynamo.Client, string) {
	t.Helper()
	_, name := moto.Get(t).SketchTable(t)
	return dynamotest.Client(t, moto.Get(t)), name
}

// Of many invocations changing a rule's state at once, exactly one may
// post: for the first firing (no item yet), for resolving, and for firing
// again.
func TestStateChangesOnce(t *testing.T) {
	db, table := stateTable(t)
	states := map[string]State{"memory": &MemoryState{}, "dynamodb": &DynamoState{Client: db, Table: table}}
	for name, st := range states {
		t.Run(name, func(t *testing.T) {
			for _, step := range []struct {
				from []Status
				to   Status
			}{
				{[]Status{"", Resolved}, Firing},
				{[]Status{Firing}, Resolved},
				{[]Status{"", Resolved}, Firing},
			} {
				var won atomic.Int64
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						ok, err := st.Change(context.Background(), "rule-1", step.from, step.to, time.Now())
						if err != nil {
							t.Error(err)
						}
						if ok {
							won.Add(1)
						}
					})
				}
				wg.Wait()
				if won.Load() != 1 {
					t.Errorf("to %s: %d callers changed the state, want exactly 1", step.to, won.Load())
				}
			}
			// Resolving a rule that is not firing changes nothing.
			if ok, err := st.Change(context.Background(), "rule-2", []Status{Firing}, Resolved, time.Now()); ok || err != nil {
				t.Errorf("resolving a rule never fired: %v, %v", ok, err)
			}
		})
	}
}

// recorder is a Poster that keeps what it posts, or fails while failing.
type recorder struct {
	mu      sync.Mutex
	posts   []chat.Message
	failing bool
}

func (r *recorder) Post(_ context.Context, m chat.Message) (chat.Posted, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return chat.Posted{}, errors.New("slack is down")
	}
	r.posts = append(r.posts, m)
	return chat.Posted{TS: "1"}, nil
}

var now = time.Date(2025, 11, 25, 14, 0, 0, 0, time.UTC)

// traffic records n requests of ms each, one in every fail answered 502,
// in the minute before at.
func traffic(s *sketchstore.MemoryStore, at time.Time, n int, ms float64, fail int) {
	for i := range n {
		status := 200
		if fail > 0 && i%fail == 0 {
			status = 502
		}
		s.RecordStatus("POST /slack/events", at.Add(-30*time.Second), status, time.Duration(ms*float64(time.Millisecond)), -1)
	}
}

func TestCheckerFiresOnceAndResolves(t *testing.T) {
	rules, err := contract.ParseAlertRules(`[{"route":"events","quantile":0.99,"threshold_ms":800,"window":"5m"},
		{"route":"*","error_ratio":0.05,"window":"5m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return now }
	post := &recorder{}
	c := &Checker{Rules: rules, Store: store, State: &MemoryState{}, Post: post, Channel: "#ops"}
	check := func(at time.Time) {
		t.Helper()
		if _, err := c.Check(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	traffic(store, now, 100, 1000, 10) // slow, and one in ten a 502
	check(now)
	check(now) // the same window again: already firing
	if len(post.posts) != 2 {
		t.Fatalf("%d posts, want 2 (each rule fired once)", len(post.posts))
	}
	var meta map[string]any
	b, _ := json.Marshal(post.posts[0].Metadata)
	_ = json.Unmarshal(b, &meta)
	p := meta["event_payload"].(map[string]any)
	if meta["event_type"] != MetadataEventType || p["state"] != "firing" || p["route"] != "events" || p["quantile"] != 0.99 ||
		p["threshold_ms"] != 800.0 || p["window_seconds"] != 300.0 || p["count"] != 100.0 || !(p["value"].(float64) > 800) {
		t.Errorf("metadata %v", meta)
	}
	if !strings.Contains(post.posts[0].Text, "Alert: p99 of events over the last 5m is 1000 ms, above 800 ms (100 requests)") {
		t.Errorf("text %q", post.posts[0].Text)
	}
	if post.posts[0].Channel != "#ops" {
		t.Errorf("channel %q", post.posts[0].Channel)
	}

	// 760 ms is under the threshold but not under 90% of it: still firing.
	later := now.Add(6 * time.Minute)
	traffic(store, later, 100, 760, 0)
	check(later)
	if len(post.posts) != 3 { // the error rule resolves: 0% is under 4.5%
		t.Fatalf("%d posts, want 3: the latency rule holds at 760 ms, the error rule resolves", len(post.posts))
	}
	if !strings.Contains(post.posts[2].Text, "Resolved: 5xx share of all routes") {
		t.Errorf("text %q", post.posts[2].Text)
	}
	evenLater := later.Add(6 * time.Minute)
	traffic(store, evenLater, 100, 700, 0)
	check(evenLater)
	if len(post.posts) != 4 || !strings.Contains(post.posts[3].Text, "Resolved: p99 of events over the last 5m is 700 ms, under 720 ms") {
		t.Fatalf("posts %d, last %q; want the latency rule resolved", len(post.posts), post.posts[len(post.posts)-1].Text)
	}
}

// A post that fails leaves the rule as it was, so the retry posts it.
func TestCheckerRetriesAFailedPost(t *testing.T) {
	rules, _ := contract.ParseAlertRules(`[{"route":"*","quantile":0.5,"threshold_ms":10,"window":"1m"}]`)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return now }
	traffic(store, now, 10, 50, 0)
	post := &recorder{failing: true}
	c := &Checker{Rules: rules, Store: store, State: &MemoryState{}, Post: post}
	if _, err := c.Check(context.Background(), now); err == nil {
		t.Fatal("no error from a failed post")
	}
	post.failing = false
	changes, err := c.Check(context.Background(), now)
	if err != nil || len(changes) != 1 || len(post.posts) != 1 {
		t.Errorf("retry: %v, %v, %d posts; want the alert posted once", changes, err, len(post.posts))
	}
}

// Route names reach the message escaped.
func TestMessageEscapes(t *testing.T) {
	rules, err := contract.ParseAlertRules(`[{"route":"/` + strings.ReplaceAll(testenv.HostileText, `"`, `\"`) + `","quantile":0.5,"threshold_ms":10,"window":"1m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	m := Message(rules[0], Firing, 20, 3)
	testenv.NoRawMarkup(t, "alert text", m.Text)
	testenv.NoRawMarkupIn(t, "alert blocks", m.Blocks)
}

// TestCheckerPerSource: a rule reads its own source's data only; a rule
// without a source watches the default (the first configured); CheckSource
// checks one source's rules; the message and metadata name the source.
func TestCheckerPerSource(t *testing.T) {
	sources, err := contract.ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"}]`)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := contract.ParseAlertRules(`[{"route":"*","quantile":0.5,"threshold_ms":100,"window":"5m"},
		{"source":"slackbot","route":"*","quantile":0.5,"threshold_ms":100,"window":"5m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := contract.ResolveAlertSources(parsed, sources)
	if err != nil {
		t.Fatal(err)
	}
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return now }
	// The bot's own API is slow; orders is fast, then slow.
	traffic(store, now, 20, 500, 0)
	orders := func(ms float64) {
		p := sketchstore.NewSketches()
		for range 20 {
			_ = p.Response.Add(ms)
			p.CountStatus(200)
		}
		key := sketchstore.Key{Source: "orders", Route: "GET /orders", Minute: now.Add(-time.Minute).Unix()}
		if err := store.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{key: p}); err != nil {
			t.Fatal(err)
		}
	}
	orders(20)
	post := &recorder{}
	c := &Checker{Rules: rules, Store: store, State: &MemoryState{}, Post: post}

	// After a batch of orders only its rules are checked: fast, no change.
	if ch, err := c.CheckSource(context.Background(), now, "orders"); err != nil || len(ch) != 0 || len(post.posts) != 0 {
		t.Fatalf("orders checked: %v, %v, %d posts; want nothing", ch, err, len(post.posts))
	}
	// The bot's own rule fires on the bot's own data, not orders'.
	if ch, err := c.CheckSource(context.Background(), now, contract.DefaultSource); err != nil || len(ch) != 1 || len(post.posts) != 1 {
		t.Fatalf("slackbot checked: %v, %v, %d posts; want its rule fired", ch, err, len(post.posts))
	}
	p := post.posts[0].Metadata.EventPayload
	if p["source"] != contract.DefaultSource || strings.Contains(post.posts[0].Text, " of orders") {
		t.Errorf("the bot's own alert: %q, metadata %v", post.posts[0].Text, p)
	}
	// orders gets slow: its rule fires, named.
	orders(1000)
	orders(1000)
	ch, err := c.Check(context.Background(), now)
	if err != nil || len(ch) != 1 || len(post.posts) != 2 {
		t.Fatalf("all checked: %v, %v, %d posts; want the orders rule fired", ch, err, len(post.posts))
	}
	p = post.posts[1].Metadata.EventPayload
	if p["source"] != "orders" || !strings.Contains(post.posts[1].Text, "p50 of all routes of orders over the last 5m") || !strings.HasPrefix(ch[0].Rule, "@orders|") {
		t.Errorf("the orders alert: %q, metadata %v, rule %s", post.posts[1].Text, p, ch[0].Rule)
	}
}

// lostAnswer applies each put, then sends it again, as a client does that
// lost the first answer (a 5xx, a dropped connection), and returns the
// second answer: its own first write refuses it.
type lostAnswer struct{ *dynamo.Client }

func (l lostAnswer) PutItem(ctx context.Context, in *dynamo.PutItemInput) (*dynamo.PutItemOutput, error) {
	if _, err := l.Client.PutItem(ctx, in); err != nil {
		return nil, err
	}
	return l.Client.PutItem(ctx, in)
}

// A change whose write was applied and retried is still this invocation's:
// the refusal comes from its own write, and the alert must be posted. A
// change another invocation made is not.
func TestRetriedChangeIsStillOurs(t *testing.T) {
	db, table := stateTable(t)
	retried := &DynamoState{Client: lostAnswer{db}, Table: table}
	ctx := context.Background()
	won, err := retried.Change(ctx, "retried", []Status{"", Resolved}, Firing, time.Now())
	if err != nil || !won {
		t.Fatalf("Change = %v, %v; want the change won, as its own first write made it", won, err)
	}
	other := &DynamoState{Client: db, Table: table}
	if won, err := other.Change(ctx, "retried", []Status{"", Resolved}, Firing, time.Now()); err != nil || won {
		t.Fatalf("second invocation's Change = %v, %v; want refused", won, err)
	}
}
