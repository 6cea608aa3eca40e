// Package dynamo makes the few DynamoDB calls the functions' stores use
// (GetItem, PutItem, UpdateItem, DeleteItem, Query) through awsenv.Call,
// with DynamoDB's JSON protocol and the SDK's names for the inputs, outputs,
// attribute values and errors, so a store reads as it would with the SDK.
//
// It exists for the cold start: the SDK's dynamodb and dynamodb/types
// packages initialise DynamoDB's schemas (about 0.6 ms, and every published
// version has them) on every cold start of the events and commands
// functions, for a claim and a read or two. TestRequestsAreTheSDKs holds
// each call's request to the SDK's, and the stores' moto tests run through
// it.
package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
)

// Service is DynamoDB for awsenv.Call.
var Service = awsenv.Service{Name: "dynamodb", ID: "DynamoDB"}

// Client calls DynamoDB with a function's AWS configuration (awsenv.Load).
type Client struct{ aws aws.Config }

// New returns a Client for cfg.
func New(cfg aws.Config) *Client { return &Client{aws: cfg} }

// ReturnValue is what an item write returns of the item (ALL_OLD, …).
type ReturnValue string

// ReturnValuesOnConditionCheckFailure is what a refused write returns of
// the item.
type ReturnValuesOnConditionCheckFailure string

const (
	ReturnValueAllOld                         ReturnValue                         = "ALL_OLD"
	ReturnValuesOnConditionCheckFailureAllOld ReturnValuesOnConditionCheckFailure = "ALL_OLD"
	conditionalCheckFailed                                                        = "ConditionalCheckFailedException"
	resourceNotFound                                                              = "ResourceNotFoundException"
)

type (
	GetItemInput struct {
		TableName                *string
		Key                      map[string]AttributeValue
		ConsistentRead           *bool             `json:",omitempty"`
		ProjectionExpression     *string           `json:",omitempty"`
		ExpressionAttributeNames map[string]string `json:",omitempty"`
	}
	GetItemOutput struct {
		Item map[string]AttributeValue
	}
	PutItemInput struct {
		TableName                           *string
		Item                                map[string]AttributeValue
		ConditionExpression                 *string                             `json:",omitempty"`
		ExpressionAttributeNames            map[string]string                   `json:",omitempty"`
		ExpressionAttributeValues           map[string]AttributeValue           `json:",omitempty"`
		ReturnValues                        ReturnValue                         `json:",omitempty"`
		ReturnValuesOnConditionCheckFailure ReturnValuesOnConditionCheckFailure `json:",omitempty"`
	}
	PutItemOutput struct {
		Attributes map[string]AttributeValue
	}
	UpdateItemInput struct {
		TableName                           *string
		Key                                 map[string]AttributeValue
		UpdateExpression                    *string                             `json:",omitempty"`
		ConditionExpression                 *string                             `json:",omitempty"`
		ExpressionAttributeNames            map[string]string                   `json:",omitempty"`
		ExpressionAttributeValues           map[string]AttributeValue           `json:",omitempty"`
		ReturnValues                        ReturnValue                         `json:",omitempty"`
		ReturnValuesOnConditionCheckFailure ReturnValuesOnConditionCheckFailure `json:",omitempty"`
	}
	UpdateItemOutput struct {
		Attributes map[string]AttributeValue
	}
	DeleteItemInput struct {
		TableName                           *string
		Key                                 map[string]AttributeValue
		ConditionExpression                 *string                             `json:",omitempty"`
		ExpressionAttributeNames            map[string]string                   `json:",omitempty"`
		ExpressionAttributeValues           map[string]AttributeValue           `json:",omitempty"`
		ReturnValues                        ReturnValue                         `json:",omitempty"`
		ReturnValuesOnConditionCheckFailure ReturnValuesOnConditionCheckFailure `json:",omitempty"`
	}
	DeleteItemOutput struct {
		Attributes map[string]AttributeValue
	}
	QueryInput struct {
		TableName                 *string
		KeyConditionExpression    *string                   `json:",omitempty"`
		ProjectionExpression      *string                   `json:",omitempty"`
		FilterExpression          *string                   `json:",omitempty"`
		ExpressionAttributeNames  map[string]string         `json:",omitempty"`
		ExpressionAttributeValues map[string]AttributeValue `json:",omitempty"`
		ConsistentRead            *bool                     `json:",omitempty"`
		ScanIndexForward          *bool                     `json:",omitempty"`
		Limit                     *int32                    `json:",omitempty"`
		ExclusiveStartKey         map[string]AttributeValue `json:",omitempty"`
	}
	QueryOutput struct {
		Items            []map[string]AttributeValue
		LastEvaluatedKey map[string]AttributeValue
		Count            int32
	}
)

// ConditionalCheckFailedException is a write whose condition was false.
// Item is the item as it was, when the write asked for it
// (ReturnValuesOnConditionCheckFailure ALL_OLD).
type ConditionalCheckFailedException struct {
	Message string
	Item    map[string]AttributeValue
}

func (e *ConditionalCheckFailedException) Error() string {
	return fmt.Sprintf("ConditionalCheckFailedException: %s", e.Message)
}

// ResourceNotFoundException is a call on a table that does not exist.
type ResourceNotFoundException struct{ Message string }

func (e *ResourceNotFoundException) Error() string {
	return fmt.Sprintf("ResourceNotFoundException: %s", e.Message)
}

// call sends one operation and decodes its answer into out. DynamoDB's own
// refusals become the SDK's error types.
func (c *Client) call(ctx context.Context, op string, in, out any) error {
	err := awsenv.Call(ctx, c.aws, awsenv.Request{Service: Service, Target: "DynamoDB_20120810." + op, JSONVersion: "1.0", Body: in}, out)
	var e *awsenv.Error
	if !errors.As(err, &e) {
		if err != nil {
			return fmt.Errorf("dynamodb %s: %w", op, err)
		}
		return nil
	}
	switch e.Code {
	case conditionalCheckFailed:
		var body struct{ Item item }
		json.Unmarshal(e.Body, &body) // the item is a courtesy; the refusal stands without it
		return fmt.Errorf("dynamodb %s: %w", op, &ConditionalCheckFailedException{Message: e.Message, Item: body.Item})
	case resourceNotFound:
		return fmt.Errorf("dynamodb %s: %w", op, &ResourceNotFoundException{Message: e.Message})
	}
	return fmt.Errorf("dynamodb %s: %w", op, err)
}

// send makes one operation whose answer decodes into an Out.
func send[Out any](ctx context.Context, c *Client, op string, in any) (*Out, error) {
	var out Out
	return &out, c.call(ctx, op, in, &out)
}

// GetItem reads one item.
func (c *Client) GetItem(ctx context.Context, in *GetItemInput) (*GetItemOutput, error) {
	return send[GetItemOutput](ctx, c, "GetItem", in)
}

// PutItem writes one item.
func (c *Client) PutItem(ctx context.Context, in *PutItemInput) (*PutItemOutput, error) {
	return send[PutItemOutput](ctx, c, "PutItem", in)
}

// UpdateItem changes one item.
func (c *Client) UpdateItem(ctx context.Context, in *UpdateItemInput) (*UpdateItemOutput, error) {
	return send[UpdateItemOutput](ctx, c, "UpdateItem", in)
}

// DeleteItem deletes one item.
func (c *Client) DeleteItem(ctx context.Context, in *DeleteItemInput) (*DeleteItemOutput, error) {
	return send[DeleteItemOutput](ctx, c, "DeleteItem", in)
}

// Query reads one page of a query; LastEvaluatedKey, when set, is the next
// page's ExclusiveStartKey.
func (c *Client) Query(ctx context.Context, in *QueryInput) (*QueryOutput, error) {
	return send[QueryOutput](ctx, c, "Query", in)
}

// Querier is what QueryPages reads from.
type Querier interface {
	Query(ctx context.Context, in *QueryInput) (*QueryOutput, error)
}

// QueryPages calls page with each page of in's query, in order, until the
// last page, an error of the query, or an error of page.
func QueryPages(ctx context.Context, q Querier, in *QueryInput, page func(*QueryOutput) error) error {
	next := *in
	for {
		out, err := q.Query(ctx, &next)
		if err != nil {
			return err
		}
		if err := page(out); err != nil {
			return err
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		next.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
