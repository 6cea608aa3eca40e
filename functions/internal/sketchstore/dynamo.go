package sketchstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"

	"github.com/lambda-slackbot/slackbot/contract"
)

// DynamoAPI is the part of *dynamo.Client the DynamoStore calls.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamo.GetItemInput) (*dynamo.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamo.PutItemInput) (*dynamo.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamo.UpdateItemInput) (*dynamo.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamo.QueryInput) (*dynamo.QueryOutput, error)
}

// The sketch table (created by infra/ from the same contract): hash key
// contract.SketchRouteKey (S), range key contract.SketchMinuteKey (N, unix
// seconds of the item's start), TTL on contract.TTLAttribute (N, unix
// seconds), which this store sets to the start plus the level's Retention.
// A minute's hash key is its route; an hour's and a day's are the route
// behind hourPrefix and dayPrefix, so each level of a route is one range
// of one partition key and a report reads it with one Query. The route of
// a source other than contract.DefaultSource is behind "@<source> " (see
// storedRoute), so the bot's own items keep the keys they had before there
// were sources. The other attributes are this package's own.
const (
	attrRoute     = contract.SketchRouteKey
	attrMinute    = contract.SketchMinuteKey
	attrExpiresAt = contract.TTLAttribute

	attrVersion     = "v"           // N: bumped by every write, the optimistic lock
	attrResponse    = "response"    // B: EncodeSketch of responseLatency
	attrIntegration = "integration" // B: EncodeSketch of integrationLatency
	attrBatches     = "batches"     // B: batchKeyLen-byte keys of the last maxBatches(level) batches applied, oldest first
	attrRequests    = "n"           // N: requests counted (Sketches.Requests)
	attrStatus4xx   = "s4"          // N: of them answered 4xx
	attrStatus5xx   = "s5"          // N: of them answered 5xx
	attrRoutes      = "routes"      // SS: on the registry item, every route with data; on the admitted item, the routes admitted
	attrLatest      = "latest"      // N: on the registry item, the start of the latest minute merged
	attrNoLatency   = "nolat"       // N: on the registry item, the start of the latest minute with lines without a latency

	hourPrefix = "#hour "
	dayPrefix  = "#day "

	// registryRoute is the hash key of the one item that lists the routes, so
	// a report queries each route's minutes instead of scanning the table.
	// Real routes are "<METHOD> <path>" and never start with '#', so neither
	// the registry nor a rollup's key can be a route's.
	registryRoute = "#routes"

	// admittedRoute is the hash key of the item listing the routes Admit
	// let in, with its own version: the registry lists routes with data
	// and is added to without a lock, while admission must count.
	admittedRoute = "#admitted"

	// sourcePrefix starts the stored route of a source other than
	// contract.DefaultSource; real routes of the bot never start with it.
	sourcePrefix = "@"

	batchKeyLen = 12 // bytes of SHA-256: a collision among 128 keys is beyond imagining

	// maxAttempts bounds the optimistic-lock retries of one route-minute.
	// Each lost race means another writer's merge succeeded, so a writer only
	// loses as often as there are concurrent writers to the same minute.
	maxAttempts = 64

	// registryRefresh is how often a container re-adds a route to the
	// registry, which also pushes the registry's expiry forward.
	registryRefresh = time.Hour

	// mergeParallelism bounds the route-minutes one batch writes at once.
	mergeParallelism = 8
)

// DynamoStore keeps the sketches in DynamoDB, one item per route-minute, so
// every Lambda invocation sees the same data and a report can span days.
//
// Concurrent merges into one route-minute use optimistic concurrency: read
// the item (strongly consistent) with its version, merge, and write it back
// on the condition that the version is unchanged; a writer that lost the race
// waits a jittered backoff and starts again from a fresh read. The same
// conditional write records the batch's key in the item, so a retried batch
// finds its key on the read and skips the minute: no update is lost and none
// is counted twice.
type DynamoStore struct {
	// Now is the clock of the route registry and of what has expired;
	// nil means time.Now.
	Now func() time.Time

	client DynamoAPI
	table  string

	mu         sync.Mutex
	registered map[itemKey]time.Time // source and route (level and start unused) -> when this container last added it to the registry
	latest     map[string]int64      // source -> the latest minute this container recorded on the registry
	admitted   map[string]*admitted  // source -> what this container knows Admit let in
}

// admitted is a source's admitted routes as this container last read them.
// Routes are only ever added, so a route once admitted stays admitted, and
// a full list stays full.
type admitted struct {
	routes map[string]bool
	full   bool
}

// NewDynamoStore returns a Store on table.
func NewDynamoStore(client DynamoAPI, table string) *DynamoStore {
	return &DynamoStore{client: client, table: table, registered: make(map[itemKey]time.Time),
		latest: make(map[string]int64), admitted: make(map[string]*admitted)}
}

// storedRoute is how the table names route of source: the bot's own
// routes as they always were, any other source's behind sourcePrefix.
func storedRoute(source, route string) string {
	if source = sourceName(source); source == contract.DefaultSource {
		return route
	}
	return sourcePrefix + source + " " + route
}

// registryKey is the hash key of source's route registry.
func registryKey(source string) string { return storedRoute(source, "") + registryRoute }

// admittedKey is the hash key of source's admitted routes.
func admittedKey(source string) string { return storedRoute(source, "") + admittedRoute }

// Merge implements Store.
func (s *DynamoStore) Merge(ctx context.Context, batch string, parts map[Key]*Sketches) error {
	if len(parts) == 0 {
		return nil
	}
	if err := s.register(ctx, parts); err != nil {
		return err
	}
	if err := s.noteLatest(ctx, parts); err != nil {
		return err
	}
	var bk []byte
	if batch != "" {
		sum := sha256.Sum256([]byte(batch))
		bk = sum[:batchKeyLen]
	}
	// The ingest merges each batch into the minutes, hours and days it
	// touched, one conditional write per item: the rollups never lag
	// behind their minutes, and a retry skips each item that took the batch.
	items, err := rollUp(parts)
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, mergeParallelism)
		mu   sync.Mutex
		errs []error
	)
	for k, p := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.mergeItem(ctx, k, bk, p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// register adds the parts' routes to their source's registry item, unless
// this container did so lately. ADD to a string set is idempotent, so
// concurrent writers need no lock.
func (s *DynamoStore) register(ctx context.Context, parts map[Key]*Sketches) error {
	now := clock(s.Now)
	s.mu.Lock()
	routes := map[string][]string{}
	for k := range parts {
		src := sourceName(k.Source)
		if t, ok := s.registered[itemKey{source: src, route: k.Route}]; (!ok || now.Sub(t) > registryRefresh) && !slices.Contains(routes[src], k.Route) {
			routes[src] = append(routes[src], k.Route)
		}
	}
	s.mu.Unlock()
	for src, rs := range routes {
		_, err := s.client.UpdateItem(ctx, &dynamo.UpdateItemInput{
			TableName:                aws.String(s.table),
			Key:                      tableKey(registryKey(src), 0),
			UpdateExpression:         aws.String("ADD #routes :routes SET #exp = :exp"),
			ExpressionAttributeNames: map[string]string{"#routes": attrRoutes, "#exp": attrExpiresAt},
			ExpressionAttributeValues: map[string]dynamo.AttributeValue{
				":routes": &dynamo.AttributeValueMemberSS{Value: rs},
				":exp":    numAttr(now.Add(Day.Retention()).Unix()),
			},
		})
		if err != nil {
			return fmt.Errorf("register routes of %s in %s: %w", src, s.table, err)
		}
		s.mu.Lock()
		for _, r := range rs {
			s.registered[itemKey{source: src, route: r}] = now
		}
		s.mu.Unlock()
	}
	return nil
}

// noteLatest raises each source's latest minute on its registry item to
// the latest of parts, unless this container already recorded as late a
// one: one small write per source and new minute.
func (s *DynamoStore) noteLatest(ctx context.Context, parts map[Key]*Sketches) error {
	latest := map[string]int64{}
	for k := range parts {
		src := sourceName(k.Source)
		latest[src] = max(latest[src], k.Minute)
	}
	for src, m := range latest {
		s.mu.Lock()
		known := s.latest[src]
		s.mu.Unlock()
		if m <= known {
			continue
		}
		if err := s.raise(ctx, src, attrLatest, m); err != nil {
			return err
		}
		s.mu.Lock()
		s.latest[src] = max(s.latest[src], m)
		s.mu.Unlock()
	}
	return nil
}

// raise sets attribute attr of source's registry item to minute unless it
// holds a later one already.
func (s *DynamoStore) raise(ctx context.Context, source, attr string, minute int64) error {
	_, err := s.client.UpdateItem(ctx, &dynamo.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      tableKey(registryKey(source), 0),
		UpdateExpression:         aws.String("SET #a = :m, #exp = :exp"),
		ConditionExpression:      aws.String("attribute_not_exists(#a) OR #a < :m"),
		ExpressionAttributeNames: map[string]string{"#a": attr, "#exp": attrExpiresAt},
		ExpressionAttributeValues: map[string]dynamo.AttributeValue{
			":m":   numAttr(minute),
			":exp": numAttr(clock(s.Now).Add(Day.Retention()).Unix()),
		},
	})
	var later *dynamo.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &later) {
		return fmt.Errorf("record the %s minute of %s in %s: %w", attr, source, s.table, err)
	}
	return nil
}

// NoteNoLatency implements Store.
func (s *DynamoStore) NoteNoLatency(ctx context.Context, source string, minute int64) error {
	return s.raise(ctx, sourceName(source), attrNoLatency, minute)
}

// SourceStats implements Store.
func (s *DynamoStore) SourceStats(ctx context.Context, source string) (SourceStats, error) {
	out, err := s.client.GetItem(ctx, &dynamo.GetItemInput{
		TableName: aws.String(s.table),
		Key:       tableKey(registryKey(source), 0),
	})
	if err != nil {
		return SourceStats{}, fmt.Errorf("read the registry of %s from %s: %w", sourceName(source), s.table, err)
	}
	var st SourceStats
	if ss, ok := out.Item[attrRoutes].(*dynamo.AttributeValueMemberSS); ok {
		st.Routes = len(ss.Value)
	}
	for _, a := range []struct {
		name string
		dst  *int64
	}{{attrLatest, &st.Latest}, {attrNoLatency, &st.LatestNoLatency}} {
		if n, ok := out.Item[a.name].(*dynamo.AttributeValueMemberN); ok {
			if *a.dst, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
				return SourceStats{}, fmt.Errorf("registry of %s: %s %q: %w", sourceName(source), a.name, n.Value, err)
			}
		}
	}
	return st, nil
}

// Admit implements Store. The admitted routes are one item per source with
// a version: a container reads it, adds what fits, and writes it back on
// the condition that the version is unchanged, so however many containers
// race, the list never grows past limit. What this container learnt is
// kept, so a batch of known routes, or of new ones when the list is full,
// costs no call.
func (s *DynamoStore) Admit(ctx context.Context, source string, routes []string, limit int) ([]string, error) {
	source = sourceName(source)
	answer := func(a *admitted) []string {
		out := make([]string, 0, len(routes))
		for _, r := range routes {
			if (r == contract.OtherRoute || a.routes[r]) && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
		return out
	}
	s.mu.Lock()
	a := s.admitted[source]
	if a == nil {
		a = &admitted{routes: map[string]bool{}}
		s.admitted[source] = a
	}
	var missing []string
	for _, r := range routes {
		if r != contract.OtherRoute && !a.routes[r] && !slices.Contains(missing, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 || a.full {
		defer s.mu.Unlock()
		return answer(a), nil
	}
	s.mu.Unlock()

	key := tableKey(admittedKey(source), 0)
	for attempt := 1; ; attempt++ {
		out, err := s.client.GetItem(ctx, &dynamo.GetItemInput{TableName: aws.String(s.table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("read the admitted routes of %s: %w", source, err)
		}
		var have []string
		if ss, ok := out.Item[attrRoutes].(*dynamo.AttributeValueMemberSS); ok {
			have = ss.Value
		}
		var version int64
		if n, ok := out.Item[attrVersion].(*dynamo.AttributeValueMemberN); ok {
			if version, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
				return nil, fmt.Errorf("admitted routes of %s: version %q: %w", source, n.Value, err)
			}
		}
		var add []string
		for _, r := range missing {
			if len(have)+len(add) < limit && !slices.Contains(have, r) {
				add = append(add, r)
			}
		}
		if len(add) > 0 {
			in := &dynamo.UpdateItemInput{
				TableName:                aws.String(s.table),
				Key:                      key,
				UpdateExpression:         aws.String("ADD #routes :add SET #v = :next, #exp = :exp"),
				ExpressionAttributeNames: map[string]string{"#routes": attrRoutes, "#v": attrVersion, "#exp": attrExpiresAt},
				ExpressionAttributeValues: map[string]dynamo.AttributeValue{
					":add":  &dynamo.AttributeValueMemberSS{Value: add},
					":next": numAttr(version + 1),
					":exp":  numAttr(clock(s.Now).Add(Day.Retention()).Unix()),
				},
			}
			if version == 0 {
				in.ConditionExpression = aws.String("attribute_not_exists(#v)")
			} else {
				in.ConditionExpression = aws.String("#v = :v")
				in.ExpressionAttributeValues[":v"] = numAttr(version)
			}
			_, err = s.client.UpdateItem(ctx, in)
			var lost *dynamo.ConditionalCheckFailedException
			switch {
			case errors.As(err, &lost) && attempt < maxAttempts:
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, fmt.Errorf("admit routes of %s: %w", source, err)
				}
				continue
			case err != nil:
				return nil, fmt.Errorf("admit routes of %s: %w", source, err)
			}
			have = append(have, add...)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range have {
			a.routes[r] = true
		}
		a.full = len(a.routes) >= limit
		return answer(a), nil
	}
}

func tableKey(route string, start int64) map[string]dynamo.AttributeValue {
	return map[string]dynamo.AttributeValue{
		attrRoute:  &dynamo.AttributeValueMemberS{Value: route},
		attrMinute: numAttr(start),
	}
}

// partition is the hash key of route's items of level l.
func partition(l Level, route string) string {
	switch l {
	case Hour:
		return hourPrefix + route
	case Day:
		return dayPrefix + route
	}
	return route
}

func numAttr(n int64) dynamo.AttributeValue {
	return &dynamo.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// mergeItem merges p into one item; see DynamoStore.
func (s *DynamoStore) mergeItem(ctx context.Context, k itemKey, bk []byte, p *Sketches) error {
	key := tableKey(partition(k.level, storedRoute(k.source, k.route)), k.start)
	for attempt := 1; ; attempt++ {
		out, err := s.client.GetItem(ctx, &dynamo.GetItemInput{
			TableName:      aws.String(s.table),
			Key:            key,
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("read %s %s at %d: %w", k.route, k.level, k.start, err)
		}
		merged, version, batches, err := decodeItem(out.Item)
		if err != nil {
			return fmt.Errorf("read %s %s at %d: %w", k.route, k.level, k.start, err)
		}
		if bk != nil && hasBatch(batches, bk) {
			return nil // a retry of a batch this item already took
		}
		if err := merged.Merge(p); err != nil {
			return fmt.Errorf("merge %s %s at %d: %w", k.route, k.level, k.start, err)
		}
		if bk != nil {
			batches = appendBatch(batches, bk, maxBatches(k.level))
		}

		item := tableKey(partition(k.level, storedRoute(k.source, k.route)), k.start)
		item[attrExpiresAt] = numAttr(k.start + int64(k.level.Retention()/time.Second))
		item[attrVersion] = numAttr(version + 1)
		item[attrResponse] = &dynamo.AttributeValueMemberB{Value: EncodeSketch(nil, merged.Response)}
		item[attrIntegration] = &dynamo.AttributeValueMemberB{Value: EncodeSketch(nil, merged.Integration)}
		item[attrRequests] = numAttr(merged.Requests)
		item[attrStatus4xx] = numAttr(merged.Status4xx)
		item[attrStatus5xx] = numAttr(merged.Status5xx)
		if len(batches) > 0 {
			item[attrBatches] = &dynamo.AttributeValueMemberB{Value: batches}
		}
		in := &dynamo.PutItemInput{TableName: aws.String(s.table), Item: item}
		if len(out.Item) == 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(#route)")
			in.ExpressionAttributeNames = map[string]string{"#route": attrRoute}
		} else {
			in.ConditionExpression = aws.String("#v = :v")
			in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
			in.ExpressionAttributeValues = map[string]dynamo.AttributeValue{":v": numAttr(version)}
		}
		_, err = s.client.PutItem(ctx, in)
		var lost *dynamo.ConditionalCheckFailedException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &lost):
			return fmt.Errorf("write %s %s at %d: %w", k.route, k.level, k.start, err)
		case attempt >= maxAttempts:
			return fmt.Errorf("write %s %s at %d: still losing to concurrent writers after %d attempts", k.route, k.level, k.start, attempt)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fmt.Errorf("write %s %s at %d: %w", k.route, k.level, k.start, err)
		}
	}
}

// backoff is "full jitter": a random wait up to an exponentially growing
// cap, which spreads writers that collided so they do not collide again.
func backoff(attempt int) time.Duration {
	ceiling := min(5*time.Millisecond<<min(attempt-1, 10), 500*time.Millisecond)
	return rand.N(ceiling) + time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decodeItem reads a route-minute item; a missing item is empty sketches at
// version 0.
func decodeItem(item map[string]dynamo.AttributeValue) (sk *Sketches, version int64, batches []byte, err error) {
	if len(item) == 0 {
		return NewSketches(), 0, nil, nil
	}
	v, ok := item[attrVersion].(*dynamo.AttributeValueMemberN)
	if !ok {
		return nil, 0, nil, fmt.Errorf("item has no %s number", attrVersion)
	}
	if version, err = strconv.ParseInt(v.Value, 10, 64); err != nil {
		return nil, 0, nil, fmt.Errorf("item's %s %q: %w", attrVersion, v.Value, err)
	}
	if b, ok := item[attrBatches].(*dynamo.AttributeValueMemberB); ok {
		batches = b.Value
	}
	sk, err = decodeSketches(item)
	return sk, version, batches, err
}

func decodeSketches(item map[string]dynamo.AttributeValue) (*Sketches, error) {
	sk := NewSketches()
	if err := mergeAttrs(sk, item); err != nil {
		return nil, err
	}
	return sk, nil
}

// mergeAttrs merges an item's encoded sketches and counts into sk.
func mergeAttrs(sk *Sketches, item map[string]dynamo.AttributeValue) error {
	for _, a := range []struct {
		name string
		dst  *Sketch
	}{{attrResponse, sk.Response}, {attrIntegration, sk.Integration}} {
		b, ok := item[a.name].(*dynamo.AttributeValueMemberB)
		if !ok {
			continue
		}
		if err := mergeEncoded(a.dst, b.Value); err != nil {
			return fmt.Errorf("item's %s: %w", a.name, err)
		}
	}
	for _, a := range []struct {
		name string
		dst  *int64
	}{{attrRequests, &sk.Requests}, {attrStatus4xx, &sk.Status4xx}, {attrStatus5xx, &sk.Status5xx}} {
		n, ok := item[a.name].(*dynamo.AttributeValueMemberN)
		if !ok {
			continue // an item written before status counts
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return fmt.Errorf("item's %s %q: %w", a.name, n.Value, err)
		}
		*a.dst += v
	}
	return nil
}

func hasBatch(batches, bk []byte) bool {
	for i := 0; i+batchKeyLen <= len(batches); i += batchKeyLen {
		if bytes.Equal(batches[i:i+batchKeyLen], bk) {
			return true
		}
	}
	return false
}

// appendBatch adds bk to the batch ring, dropping the oldest beyond limit.
// It copies, so the read item is not changed.
func appendBatch(batches, bk []byte, limit int) []byte {
	if over := len(batches)/batchKeyLen + 1 - limit; over > 0 {
		batches = batches[over*batchKeyLen:]
	}
	out := make([]byte, 0, len(batches)+batchKeyLen)
	return append(append(out, batches...), bk...)
}

// Series implements Store: it reads the route registry, then queries each
// route's spans (see cover) in parallel.
func (s *DynamoStore) Series(ctx context.Context, source string, from, to time.Time, step time.Duration) (*Series, error) {
	w, err := newWindow(from, to, step, clock(s.Now))
	if err != nil {
		return nil, err
	}
	c := newCollector(w)
	if len(w.spans) == 0 {
		return c.series(), nil
	}
	reg, err := s.client.GetItem(ctx, &dynamo.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      tableKey(registryKey(source), 0),
		ProjectionExpression:     aws.String("#routes"),
		ExpressionAttributeNames: map[string]string{"#routes": attrRoutes},
	})
	if err != nil {
		return nil, fmt.Errorf("read the route list from %s: %w", s.table, err)
	}
	routes, _ := reg.Item[attrRoutes].(*dynamo.AttributeValueMemberSS)
	if routes == nil {
		return c.series(), nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, mergeParallelism)
	)
	for _, route := range routes.Value {
		for _, sp := range w.spans {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := s.query(ctx, c, source, route, sp); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c.series(), nil
}

// query adds route's items of one span to c, merging those of a bucket
// before taking c's lock.
func (s *DynamoStore) query(ctx context.Context, c *collector, source, route string, sp span) error {
	in := &dynamo.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("#route = :route AND #minute BETWEEN :lo AND :hi"),
		// Not the batch keys: they are as big as the sketches and of no use here.
		ProjectionExpression: aws.String("#minute, #resp, #integ, #n, #s4, #s5"),
		ExpressionAttributeNames: map[string]string{
			"#route": attrRoute, "#minute": attrMinute, "#resp": attrResponse, "#integ": attrIntegration,
			"#n": attrRequests, "#s4": attrStatus4xx, "#s5": attrStatus5xx,
		},
		ExpressionAttributeValues: map[string]dynamo.AttributeValue{
			":route": &dynamo.AttributeValueMemberS{Value: partition(sp.level, storedRoute(source, route))},
			":lo":    numAttr(sp.lo),
			":hi":    numAttr(sp.hi - sp.level.Seconds()),
		},
	}
	bucket, acc := -1, (*Sketches)(nil)
	flush := func() error {
		if acc == nil {
			return nil
		}
		err := c.add(route, bucket, acc)
		acc = nil
		return err
	}
	err := dynamo.QueryPages(ctx, s.client, in, func(page *dynamo.QueryOutput) error {
		for _, item := range page.Items {
			n, _ := item[attrMinute].(*dynamo.AttributeValueMemberN)
			if n == nil {
				return fmt.Errorf("query %s: an item without %s", route, attrMinute)
			}
			start, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return fmt.Errorf("query %s: item's %s %q: %w", route, attrMinute, n.Value, err)
			}
			// Items come in key order, so a bucket's are consecutive.
			if b := c.w.bucket(start); b != bucket {
				if err := flush(); err != nil {
					return err
				}
				bucket = b
			}
			if acc == nil {
				acc = NewSketches()
			}
			if err := mergeAttrs(acc, item); err != nil {
				return fmt.Errorf("query %s: %w", route, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("query %s %ss %d to %d: %w", route, sp.level, sp.lo, sp.hi, err)
	}
	return flush()
}
