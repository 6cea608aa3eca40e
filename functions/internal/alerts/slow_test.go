package alerts

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestCheckerWithSlowSlack runs a firing rule against a fake Slack that
// misbehaves, with the rule's state in DynamoDB (on moto) and each check
// under an invocation's deadline, and counts what Slack got.
//   - A post Slack takes and never answers is pending: the next check
//     posts it again, once (at least once: losing an alert is worse).
//   - A post Slack refuses with a 503 is pending too: the next check posts it.
//   - A post Slack refuses for good (not_in_channel) is not an error: the
//     change stands and is not tried again.
func TestCheckerWithSlowSlack(t *testing.T) {
	testenv.SkipShort(t, "moto")
	rules, err := contract.ParseAlertRules(`[{"route":"*","quantile":0.5,"threshold_ms":10,"window":"1m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		mode         testenv.Mode
		firstFails   bool
		wantTaken    int // posts Slack kept
		wantAttempts int
		wantRefused  string
	}{
		{name: "swallowed", mode: testenv.SwallowFirst, firstFails: true, wantTaken: 2, wantAttempts: 2},
		{name: "refused once", mode: testenv.RefuseOnce, firstFails: true, wantTaken: 1, wantAttempts: 2},
		{name: "not_in_channel", mode: testenv.AnswerError("not_in_channel"), wantTaken: 0, wantAttempts: 1, wantRefused: "not_in_channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, table := stateTable(t)
			store := sketchstore.NewMemoryStore()
			store.Now = func() time.Time { return now }
			traffic(store, now, 10, 50, 0)
			slackSrv := testenv.NewSlack(t, "xoxb-alerts", nil)
			slackSrv.SetMode(tt.mode, testenv.MethodPostMessage)
			c := &Checker{Rules: rules, Store: store, State: &DynamoState{Client: db, Table: table},
				Post: notify.NewClient("xoxb-alerts", slackSrv.APIURL(), notify.Retry{}), Channel: "C0000OPS1",
				Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
			// Three checks: the batch, its retry or the next batch, the schedule.
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				changes, err := c.Check(ctx, now)
				cancel()
				if (err != nil) != (i == 0 && tt.firstFails) {
					t.Errorf("check %d: error %v", i, err)
				}
				if i == 0 && tt.wantRefused != "" && (len(changes) != 1 || changes[0].Refused != tt.wantRefused) {
					t.Errorf("check %d: changes %+v, want one refused with %s", i, changes, tt.wantRefused)
				}
			}
			if n := len(slackSrv.Posts()); n != tt.wantTaken {
				t.Errorf("Slack kept %d posts, want %d", n, tt.wantTaken)
			}
			if n := slackSrv.Attempts(testenv.MethodPostMessage); n != tt.wantAttempts {
				t.Errorf("chat.postMessage attempts = %d, want %d", n, tt.wantAttempts)
			}
			out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
				contract.SketchRouteKey:  &types.AttributeValueMemberS{Value: statePrefix + rules[0].ID()},
				contract.SketchMinuteKey: &types.AttributeValueMemberN{Value: "0"},
			}})
			if st, ok := out.Item[attrStatus].(*types.AttributeValueMemberS); err != nil || !ok || st.Value != string(Firing) {
				t.Errorf("state %v, %v; want firing", out.Item, err)
			}
		})
	}
}
