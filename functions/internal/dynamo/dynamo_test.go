package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
)

// recorder is a stand-in DynamoDB that keeps each request and answers
// with the next of its answers.
type recorder struct {
	reqs    []*http.Request
	bodies  []map[string]any
	answers []string
	status  int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	r.reqs, r.bodies = append(r.reqs, req), append(r.bodies, m)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if r.status != 0 {
		w.WriteHeader(r.status)
	}
	w.Write([]byte(r.answers[(len(r.reqs)-1)%len(r.answers)]))
}

func start(t *testing.T, r *recorder) aws.Config {
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB": s.URL}
	return awsenv.Load(func(k string) string { return env[k] })
}

// TestRequestsAreTheSDKs sends each operation the stores use, with every
// kind of value and option they set, through the SDK's client and through
// Client, and wants the same target, content type and JSON body, and the
// same answer decoded.
func TestRequestsAreTheSDKs(t *testing.T) {
	const item = `{"Item":{"id":{"S":"Ev1"},"n":{"N":"42"},"b":{"B":"AAE="},"ss":{"SS":["a","b"]},"ok":{"BOOL":true},"l":{"L":[{"S":"x"},{"NULL":true}]},"m":{"M":{"k":{"N":"1"}}}},` +
		`"Attributes":{"id":{"S":"Ev1"}},"Items":[{"id":{"S":"Ev1"}},{"id":{"S":"Ev2"}}],"Count":2}`
	r := &recorder{answers: []string{item}}
	cfg := start(t, r)
	ctx := context.Background()
	sdk, ours := dynamodb.NewFromConfig(cfg), dynamo.New(cfg)
	table, cond, upd := aws.String("t"), aws.String("attribute_not_exists(#id) OR #s = :s"), aws.String("SET #s = :s ADD #b :b")
	names := map[string]string{"#id": "id", "#s": "state", "#b": "batches"}
	sdkKey := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "Ev1"}, "minute": &types.AttributeValueMemberN{Value: "60"}}
	key := map[string]dynamo.AttributeValue{"id": &dynamo.AttributeValueMemberS{Value: "Ev1"}, "minute": &dynamo.AttributeValueMemberN{Value: "60"}}
	sdkValues := map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "done"}, ":b": &types.AttributeValueMemberSS{Value: []string{"x"}},
		":raw": &types.AttributeValueMemberB{Value: []byte{0, 1}}, ":t": &types.AttributeValueMemberBOOL{Value: true}}
	values := map[string]dynamo.AttributeValue{":s": &dynamo.AttributeValueMemberS{Value: "done"}, ":b": &dynamo.AttributeValueMemberSS{Value: []string{"x"}},
		":raw": &dynamo.AttributeValueMemberB{Value: []byte{0, 1}}, ":t": &dynamo.AttributeValueMemberBOOL{Value: true}}

	calls := []struct {
		name      string
		sdk, ours func() (any, error)
	}{
		{"GetItem", func() (any, error) {
			out, err := sdk.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: sdkKey, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#s"), ExpressionAttributeNames: map[string]string{"#s": "state"}})
			return out.Item, err
		}, func() (any, error) {
			out, err := ours.GetItem(ctx, &dynamo.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#s"), ExpressionAttributeNames: map[string]string{"#s": "state"}})
			return out.Item, err
		}},
		{"PutItem", func() (any, error) {
			out, err := sdk.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: sdkKey, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: sdkValues,
				ReturnValues: types.ReturnValueAllOld, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
			return out.Attributes, err
		}, func() (any, error) {
			out, err := ours.PutItem(ctx, &dynamo.PutItemInput{TableName: table, Item: key, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
				ReturnValues: dynamo.ReturnValueAllOld, ReturnValuesOnConditionCheckFailure: dynamo.ReturnValuesOnConditionCheckFailureAllOld})
			return out.Attributes, err
		}},
		{"UpdateItem", func() (any, error) {
			out, err := sdk.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: sdkKey, UpdateExpression: upd, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: sdkValues})
			return out.Attributes, err
		}, func() (any, error) {
			out, err := ours.UpdateItem(ctx, &dynamo.UpdateItemInput{TableName: table, Key: key, UpdateExpression: upd, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
			return out.Attributes, err
		}},
		{"DeleteItem", func() (any, error) {
			out, err := sdk.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: sdkKey, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: sdkValues})
			return out.Attributes, err
		}, func() (any, error) {
			out, err := ours.DeleteItem(ctx, &dynamo.DeleteItemInput{TableName: table, Key: key, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
			return out.Attributes, err
		}},
		{"Query", func() (any, error) {
			out, err := sdk.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("#id = :s AND #m BETWEEN :lo AND :hi"), ProjectionExpression: aws.String("#m"),
				ExpressionAttributeNames: names, ExpressionAttributeValues: sdkValues, ExclusiveStartKey: sdkKey})
			return out.Items, err
		}, func() (any, error) {
			out, err := ours.Query(ctx, &dynamo.QueryInput{TableName: table, KeyConditionExpression: aws.String("#id = :s AND #m BETWEEN :lo AND :hi"), ProjectionExpression: aws.String("#m"),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values, ExclusiveStartKey: key})
			return out.Items, err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			n := len(r.reqs)
			sdkOut, err := c.sdk()
			if err != nil {
				t.Fatalf("SDK: %v", err)
			}
			ourOut, err := c.ours()
			if err != nil {
				t.Fatalf("ours: %v", err)
			}
			want, got := r.reqs[n], r.reqs[n+1]
			for _, h := range []string{"X-Amz-Target", "Content-Type"} {
				if want.Header.Get(h) != got.Header.Get(h) {
					t.Errorf("%s %q, want the SDK's %q", h, got.Header.Get(h), want.Header.Get(h))
				}
			}
			if !reflect.DeepEqual(r.bodies[n], r.bodies[n+1]) {
				t.Errorf("body\n%v\nwant the SDK's\n%v", r.bodies[n+1], r.bodies[n])
			}
			if !strings.Contains(got.Header.Get("Authorization"), "/eu-west-1/dynamodb/aws4_request") {
				t.Errorf("Authorization %q: not signed for DynamoDB in eu-west-1", got.Header.Get("Authorization"))
			}
			if a, b := mustJSON(t, sdkOut), mustJSON(t, ourOut); a != b {
				t.Errorf("answer decoded as\n%s\nthe SDK decodes\n%s", b, a)
			}
		})
	}
}

// mustJSON writes a decoded answer, SDK's or ours, in one shape: each
// value as its member type's name and value.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(normalize(reflect.ValueOf(v)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func normalize(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		e := v.Elem()
		if e.Kind() == reflect.Struct && e.NumField() >= 1 && e.Type().Field(0).Name == "Value" {
			name := e.Type().Name()
			return map[string]any{name[strings.LastIndex(name, "Member")+6:]: normalize(e.Field(0))}
		}
		return normalize(e)
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[k.String()] = normalize(v.MapIndex(k))
		}
		return m
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes()
		}
		s := make([]any, v.Len())
		for i := range s {
			s[i] = normalize(v.Index(i))
		}
		return s
	default:
		return v.Interface()
	}
}

// TestConditionalCheckFailed: a refused write is the SDK's error type with
// the old item when asked for, other refusals keep AWS's code, and a
// missing table is ResourceNotFoundException.
func TestConditionalCheckFailed(t *testing.T) {
	r := &recorder{status: 400, answers: []string{`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"state":{"S":"done"}}}`}}
	ours := dynamo.New(start(t, r))
	_, err := ours.PutItem(context.Background(), &dynamo.PutItemInput{TableName: aws.String("t")})
	var failed *dynamo.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		t.Fatalf("error %v, want ConditionalCheckFailedException", err)
	}
	if st, _ := failed.Item["state"].(*dynamo.AttributeValueMemberS); st == nil || st.Value != "done" {
		t.Errorf("old item %v, want state done", failed.Item)
	}
	r.answers = []string{`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`}
	_, err = ours.GetItem(context.Background(), &dynamo.GetItemInput{TableName: aws.String("t")})
	var missing *dynamo.ResourceNotFoundException
	if !errors.As(err, &missing) || len(r.reqs) != 2 {
		t.Fatalf("error %v after %d requests, want ResourceNotFoundException, not retried", err, len(r.reqs))
	}
}
