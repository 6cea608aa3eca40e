package dynamotest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
)

// StandIn is an in-process stand-in for one DynamoDB table with a
// string hash key and a number range key, for benchmarks: moto_server
// would measure Python and the loopback network instead of the code under
// test. It serves GetItem, PutItem, UpdateItem (SET and ADD to a string set
// only) and Query (hash key equal to :route, range key BETWEEN :lo AND
// :hi, in pages of PageBytes as DynamoDB's 1 MB pages). It ignores
// condition and projection expressions, so it is for one writer at a time:
// tests of concurrency and conditions use moto (testenv.NewMoto).
type StandIn struct {
	HashKey, RangeKey string
	PageBytes         int // 0 means 1 MB

	mu      sync.Mutex
	items   map[string][]map[string]dynamo.AttributeValue // by hash key, sorted by range key
	Queries int                                           // Query calls so far, pages included
}

// NewStandIn returns an empty table with these key attributes.
func NewStandIn(hashKey, rangeKey string) *StandIn {
	return &StandIn{HashKey: hashKey, RangeKey: rangeKey, items: map[string][]map[string]dynamo.AttributeValue{}}
}

func (d *StandIn) keyOf(item map[string]dynamo.AttributeValue) (string, int64, error) {
	h, ok := item[d.HashKey].(*dynamo.AttributeValueMemberS)
	r, ok2 := item[d.RangeKey].(*dynamo.AttributeValueMemberN)
	if !ok || !ok2 {
		return "", 0, fmt.Errorf("stand-in: item without %s (S) and %s (N)", d.HashKey, d.RangeKey)
	}
	n, err := strconv.ParseInt(r.Value, 10, 64)
	return h.Value, n, err
}

func (d *StandIn) rangeOf(item map[string]dynamo.AttributeValue) int64 {
	n, _ := strconv.ParseInt(item[d.RangeKey].(*dynamo.AttributeValueMemberN).Value, 10, 64)
	return n
}

// find returns where the item at r under hash h is, or would be.
func (d *StandIn) find(h string, r int64) (int, bool) {
	return slices.BinarySearchFunc(d.items[h], r, func(it map[string]dynamo.AttributeValue, r int64) int {
		return cmp.Compare(d.rangeOf(it), r)
	})
}

// GetItem returns the item with the key, if any.
func (d *StandIn) GetItem(_ context.Context, in *dynamo.GetItemInput) (*dynamo.GetItemOutput, error) {
	h, r, err := d.keyOf(in.Key)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if i, ok := d.find(h, r); ok {
		return &dynamo.GetItemOutput{Item: d.items[h][i]}, nil
	}
	return &dynamo.GetItemOutput{}, nil
}

// PutItem stores the item, replacing any with its key.
func (d *StandIn) PutItem(_ context.Context, in *dynamo.PutItemInput) (*dynamo.PutItemOutput, error) {
	h, r, err := d.keyOf(in.Item)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.put(h, r, in.Item)
	return &dynamo.PutItemOutput{}, nil
}

func (d *StandIn) put(h string, r int64, item map[string]dynamo.AttributeValue) {
	i, ok := d.find(h, r)
	if ok {
		d.items[h][i] = item
		return
	}
	d.items[h] = slices.Insert(d.items[h], i, item)
}

// UpdateItem applies "ADD #a :v" (to a string set) and "SET #a = :v"
// clauses, the forms the stores use, and refuses anything else.
func (d *StandIn) UpdateItem(_ context.Context, in *dynamo.UpdateItemInput) (*dynamo.UpdateItemOutput, error) {
	h, r, err := d.keyOf(in.Key)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	item := map[string]dynamo.AttributeValue{d.HashKey: in.Key[d.HashKey], d.RangeKey: in.Key[d.RangeKey]}
	if i, ok := d.find(h, r); ok {
		for k, v := range d.items[h][i] {
			item[k] = v
		}
	}
	var expr string
	if in.UpdateExpression != nil {
		expr = *in.UpdateExpression
	}
	tokens := strings.FieldsFunc(expr, func(c rune) bool { return c == ' ' || c == ',' })
	verb := ""
	for i := 0; i < len(tokens); i++ {
		if tokens[i] == "ADD" || tokens[i] == "SET" {
			verb = tokens[i]
			continue
		}
		name := in.ExpressionAttributeNames[tokens[i]]
		switch {
		case verb == "ADD" && i+1 < len(tokens):
			add, ok := in.ExpressionAttributeValues[tokens[i+1]].(*dynamo.AttributeValueMemberSS)
			if !ok {
				return nil, fmt.Errorf("stand-in: ADD of anything but a string set in %q", expr)
			}
			var merged []string
			if old, ok := item[name].(*dynamo.AttributeValueMemberSS); ok {
				merged = slices.Clone(old.Value)
			}
			for _, v := range add.Value {
				if !slices.Contains(merged, v) {
					merged = append(merged, v)
				}
			}
			item[name] = &dynamo.AttributeValueMemberSS{Value: merged}
			i++
		case verb == "SET" && i+2 < len(tokens) && tokens[i+1] == "=":
			item[name] = in.ExpressionAttributeValues[tokens[i+2]]
			i += 2
		default:
			return nil, fmt.Errorf("stand-in: cannot read update %q", expr)
		}
	}
	d.put(h, r, item)
	return &dynamo.UpdateItemOutput{}, nil
}

// Query serves the one key condition the stores use: the hash key equal to
// :route and the range key BETWEEN :lo AND :hi.
func (d *StandIn) Query(_ context.Context, in *dynamo.QueryInput) (*dynamo.QueryOutput, error) {
	v := in.ExpressionAttributeValues
	hv, ok := v[":route"].(*dynamo.AttributeValueMemberS)
	lov, ok2 := v[":lo"].(*dynamo.AttributeValueMemberN)
	hiv, ok3 := v[":hi"].(*dynamo.AttributeValueMemberN)
	if !ok || !ok2 || !ok3 {
		return nil, fmt.Errorf("stand-in: Query wants :route, :lo and :hi")
	}
	lo, _ := strconv.ParseInt(lov.Value, 10, 64)
	hi, _ := strconv.ParseInt(hiv.Value, 10, 64)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Queries++
	items := d.items[hv.Value]
	i, _ := d.find(hv.Value, lo)
	if in.ExclusiveStartKey != nil {
		_, r, err := d.keyOf(in.ExclusiveStartKey)
		if err != nil {
			return nil, err
		}
		var found bool
		if i, found = d.find(hv.Value, r); found {
			i++
		}
	}
	limit := cmp.Or(d.PageBytes, 1<<20)
	out := &dynamo.QueryOutput{}
	size := 0
	for ; i < len(items) && d.rangeOf(items[i]) <= hi; i++ {
		if size >= limit {
			last := out.Items[len(out.Items)-1]
			out.LastEvaluatedKey = map[string]dynamo.AttributeValue{d.HashKey: last[d.HashKey], d.RangeKey: last[d.RangeKey]}
			break
		}
		out.Items = append(out.Items, items[i])
		for _, a := range items[i] {
			if b, ok := a.(*dynamo.AttributeValueMemberB); ok {
				size += len(b.Value)
			}
		}
	}
	return out, nil
}
