package installstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

func sample() installstore.Installation {
	return installstore.Installation{
		TeamID: "T0A", TeamName: "Alpha", BotToken: "xoxe.xoxb-secret-a", BotUserID: "UBOT",
		Scopes: "chat:write,commands", RefreshToken: "xoxe-1-refresh-a",
		ExpiresAt: time.Unix(1900000000, 0), InstallerUserID: "U1", InstalledAt: time.Unix(1800000000, 0),
	}
}

// checkStore holds a Store to the contract: versions, conditional updates,
// deletes.
func checkStore(t *testing.T, s installstore.Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "T:T0A"); !errors.Is(err, installstore.ErrNotFound) {
		t.Fatalf("Get before Save: %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, sample()); !errors.Is(err, installstore.ErrNotFound) {
		t.Fatalf("Update before Save: %v, want ErrNotFound", err)
	}
	saved, err := s.Save(ctx, sample())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "T:T0A")
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.Version = saved.Version
	if got != want || got.Version != 1 {
		t.Fatalf("Get = %+v\nwant %+v at version 1", got, want)
	}
	next := got
	next.BotToken = "xoxe.xoxb-secret-b"
	updated, err := s.Update(ctx, next)
	if err != nil || updated.Version != 2 {
		t.Fatalf("Update = v%d, %v; want v2", updated.Version, err)
	}
	// got is stale now: a second writer from the same read loses.
	if _, err := s.Update(ctx, got); !errors.Is(err, installstore.ErrConflict) {
		t.Fatalf("stale Update: %v, want ErrConflict", err)
	}
	again, err := s.Save(ctx, sample())
	if err != nil || again.Version != 3 {
		t.Fatalf("reinstall: v%d, %v; want v3", again.Version, err)
	}
	if err := s.Delete(ctx, "T:T0A"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "T:T0A"); !errors.Is(err, installstore.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, again); !errors.Is(err, installstore.ErrNotFound) && !errors.Is(err, installstore.ErrConflict) {
		t.Fatalf("Update after Delete: %v, want it refused", err)
	}
	if _, err := s.Get(ctx, "T:T0A"); !errors.Is(err, installstore.ErrNotFound) {
		t.Fatal("an Update brought a deleted installation back")
	}
	org := installstore.Installation{EnterpriseID: "E1", EnterpriseInstall: true, BotToken: "xoxb-org"}
	if _, err := s.Save(ctx, org); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "E:E1"); err != nil || got.BotToken != "xoxb-org" {
		t.Fatalf("org-wide install: %+v, %v", got, err)
	}
}

func TestMemory(t *testing.T) { checkStore(t, &installstore.Memory{}) }

func TestDynamo(t *testing.T) {
	db, kc, table, key := moto.Get(t).InstallationsTable(t)
	s := &installstore.Dynamo{Client: db, Table: table, Cipher: installstore.KMS{Client: kc, KeyID: key}}
	checkStore(t, s)

	// Tokens are stored only as ciphertext bound to their item and field.
	ctx := context.Background()
	if _, err := s.Save(ctx, sample()); err != nil {
		t.Fatal(err)
	}
	raw := rawItem(t, db, table, "T:T0A")
	for attr, secret := range map[string]string{"bot_token": sample().BotToken, "refresh_token": sample().RefreshToken} {
		b, ok := raw[attr].(*types.AttributeValueMemberB)
		if !ok {
			t.Fatalf("%s = %T, want binary ciphertext", attr, raw[attr])
		}
		if bytes.Contains(b.Value, []byte(secret)) {
			t.Errorf("%s holds its token in the clear", attr)
		}
	}
	// Copied to another workspace's item, a ciphertext does not open.
	raw[contract.InstallationKey] = &types.AttributeValueMemberS{Value: "T:T0B"}
	raw["team_id"] = &types.AttributeValueMemberS{Value: "T0B"}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: raw}); err != nil {
		t.Fatal(err)
	}
	if in, err := s.Get(ctx, "T:T0B"); err == nil {
		t.Errorf("a token copied to another item opened: %q", in.BotToken)
	}
}

func rawItem(t *testing.T, db *dynamodb.Client, table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{contract.InstallationKey: &types.AttributeValueMemberS{Value: key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}
