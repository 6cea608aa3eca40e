package testenv

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/lambda-slackbot/slackbot/contract"
)

func TestMotoSecretRoundTripAndReset(t *testing.T) {
	t.Parallel()
	m := NewMoto(t)
	if !strings.HasPrefix(m.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want a loopback URL", m.URL)
	}
	ctx := t.Context()
	cfg, err := m.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)

	const name, value = "slackbot/test", `{"signing_secret":"s3cret"}`
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if arn := aws.ToString(created.ARN); !strings.Contains(arn, ":"+Region+":") {
		t.Errorf("secret ARN %q is not in region %s", arn, Region)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if s := aws.ToString(got.SecretString); s != value {
		t.Errorf("SecretString = %q, want %q", s, value)
	}

	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetSecretValue after Reset: err = %v, want ResourceNotFoundException", err)
	}
}

func TestMotoDynamoDB(t *testing.T) {
	t.Parallel()
	m := NewMoto(t)
	ctx := t.Context()
	cfg, err := m.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("dedupe"),
		AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String("event_id"), AttributeType: dbtypes.ScalarAttributeTypeS}},
		KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String("event_id"), KeyType: dbtypes.KeyTypeHash}},
		BillingMode:          dbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	tables, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if !slices.Equal(tables.TableNames, []string{"dedupe"}) {
		t.Errorf("tables = %q, want [dedupe]", tables.TableNames)
	}
}

// A developer's shell may point the SDK elsewhere per service; fixtures made
// through AWSConfig must still land in moto.
func TestMotoAWSConfigIgnoresEndpointEnvironment(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
	t.Setenv("AWS_PROFILE", "no-such-profile")
	m := NewMoto(t)
	ctx := t.Context()
	cfg, err := m.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Errorf("ListSecrets through AWSConfig with endpoint variables set: %v", err)
	}
}

func TestMotoEnv(t *testing.T) {
	m := &Moto{URL: "http://127.0.0.1:1234"}
	env := m.Env()
	for _, want := range []string{
		"AWS_ENDPOINT_URL=http://127.0.0.1:1234",
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("Env() = %q, missing %q", env, want)
		}
	}
}

func TestStartMotoWithoutMotoSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	m, err := StartMoto()
	if err == nil {
		m.Stop()
		t.Fatal("StartMoto succeeded with an empty PATH")
	}
	if want := "pip install 'moto[server]'"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestLogBufferKeepsTail(t *testing.T) {
	b := &logBuffer{limit: 8}
	for _, s := range []string{"0123", "4567", "89ab"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "456789ab" {
		t.Errorf("String() = %q, want %q", got, "456789ab")
	}
}

// The exactly-once tests lean on DynamoDB's guarantee that conditional
// writes to one item apply one at a time. moto_server's threads break it
// (two of sixteen racers won in about one trial of two hundred); the
// launcher must keep it in every trial.
func TestMotoConditionalWritesHaveOneWinner(t *testing.T) {
	t.Parallel()
	m := NewMoto(t)
	ctx := t.Context()
	db := m.CreateDedupeTable(t, "race")
	const trials, racers = 100, 16
	for trial := range trials {
		key := "event-" + strconv.Itoa(trial)
		// lost[r] says racer r's put was refused by the condition. The SDK
		// retries a put whose answer it did not get (a reset connection on
		// a loaded machine), and that retry is refused by the put's own
		// first attempt: so the winner is read back from the item, and a
		// refused racer is a loser only when it is not the one stored.
		var won atomic.Int32
		lost := make([]bool, racers)
		var start, done sync.WaitGroup
		start.Add(1)
		for racer := range racers {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
					TableName: aws.String("race"),
					Item: map[string]dbtypes.AttributeValue{
						contract.DedupeKey: &dbtypes.AttributeValueMemberS{Value: key},
						"racer":            &dbtypes.AttributeValueMemberN{Value: strconv.Itoa(racer)},
					},
					ConditionExpression:      aws.String("attribute_not_exists(#k)"),
					ExpressionAttributeNames: map[string]string{"#k": contract.DedupeKey},
				})
				var refused *dbtypes.ConditionalCheckFailedException
				switch {
				case err == nil:
					won.Add(1)
				case errors.As(err, &refused):
					lost[racer] = true
				default:
					t.Errorf("PutItem: %v", err)
				}
			}()
		}
		start.Done()
		done.Wait()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String("race"), ConsistentRead: aws.Bool(true),
			Key: map[string]dbtypes.AttributeValue{contract.DedupeKey: &dbtypes.AttributeValueMemberS{Value: key}},
		})
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := out.Item["racer"].(*dbtypes.AttributeValueMemberN)
		if stored == nil {
			t.Fatalf("trial %d: no item stored", trial)
		}
		winner, _ := strconv.Atoi(stored.Value)
		if lost[winner] {
			t.Logf("trial %d: racer %d's retry was refused by its own first attempt", trial, winner)
			won.Add(1)
		}
		if n := won.Load(); n != 1 {
			t.Fatalf("trial %d: %d of %d conditional puts won, want exactly 1", trial, n, racers)
		}
	}
}
