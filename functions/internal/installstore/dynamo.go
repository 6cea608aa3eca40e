package installstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Cipher encrypts and decrypts a token bound to where it is stored: the
// same context must be given to Open as to Seal, so a ciphertext copied
// to another item or field does not open.
type Cipher interface {
	Seal(ctx context.Context, plaintext string, binding map[string]string) ([]byte, error)
	Open(ctx context.Context, ciphertext []byte, binding map[string]string) (string, error)
}

// KMSAPI is the part of the KMS client KMS uses.
type KMSAPI interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMS is a Cipher with a KMS key: tokens are a few hundred bytes, well
// under the 4 KiB KMS encrypts directly, and the binding is the request's
// encryption context, which KMS checks on decrypt and CloudTrail records.
type KMS struct {
	Client KMSAPI
	KeyID  string
}

// Seal implements Cipher.
func (k KMS) Seal(ctx context.Context, plaintext string, binding map[string]string) ([]byte, error) {
	out, err := k.Client.Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(k.KeyID), Plaintext: []byte(plaintext), EncryptionContext: binding,
	})
	if err != nil {
		return nil, fmt.Errorf("kms encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Open implements Cipher.
func (k KMS) Open(ctx context.Context, ciphertext []byte, binding map[string]string) (string, error) {
	out, err := k.Client.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(k.KeyID), CiphertextBlob: ciphertext, EncryptionContext: binding,
	})
	if err != nil {
		return "", fmt.Errorf("kms decrypt: %w", err)
	}
	return string(out.Plaintext), nil
}

// DynamoAPI is the part of the DynamoDB client Dynamo uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Dynamo is a Store in a DynamoDB table keyed by contract.InstallationKey.
// The bot and refresh tokens are stored only as Cipher's ciphertext, bound
// to their item's key and their attribute's name.
type Dynamo struct {
	Client DynamoAPI
	Table  string
	Cipher Cipher
}

// Attribute names.
const (
	attrKey          = contract.InstallationKey
	attrTeam         = "team_id"
	attrTeamName     = "team_name"
	attrEnterprise   = "enterprise_id"
	attrEntName      = "enterprise_name"
	attrOrg          = "enterprise_install"
	attrApp          = "app_id"
	attrBotToken     = "bot_token"
	attrBotUser      = "bot_user_id"
	attrBotID        = "bot_id"
	attrScopes       = "scopes"
	attrRefresh      = "refresh_token"
	attrExpires      = "token_expires"
	attrInstaller    = "installer"
	attrInstalledAt  = "installed_at"
	attrVersion      = "version"
	attrRefreshUntil = "refreshing_until"
)

func (d *Dynamo) binding(key, attr string) map[string]string {
	return map[string]string{"slackbot:installation": key, "slackbot:field": attr}
}

func (d *Dynamo) keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: key}}
}

// Get implements Store.
func (d *Dynamo) Get(ctx context.Context, key string) (Installation, error) {
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.Table), Key: d.keyOf(key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Installation{}, fmt.Errorf("get installation %s: %w", key, err)
	}
	if len(out.Item) == 0 {
		return Installation{}, ErrNotFound
	}
	it := out.Item
	in := Installation{
		TeamID:            str(it, attrTeam),
		TeamName:          str(it, attrTeamName),
		EnterpriseID:      str(it, attrEnterprise),
		EnterpriseName:    str(it, attrEntName),
		EnterpriseInstall: boolean(it, attrOrg),
		AppID:             str(it, attrApp),
		BotUserID:         str(it, attrBotUser),
		BotID:             str(it, attrBotID),
		Scopes:            str(it, attrScopes),
		ExpiresAt:         unixTime(it, attrExpires),
		InstallerUserID:   str(it, attrInstaller),
		InstalledAt:       unixTime(it, attrInstalledAt),
		Version:           num(it, attrVersion),
		RefreshingUntil:   unixTime(it, attrRefreshUntil),
	}
	if in.Key() != key {
		return Installation{}, fmt.Errorf("get installation %s: the item names %q", key, in.Key())
	}
	for attr, dst := range map[string]*string{attrBotToken: &in.BotToken, attrRefresh: &in.RefreshToken} {
		b, ok := it[attr].(*types.AttributeValueMemberB)
		if !ok {
			continue
		}
		if *dst, err = d.Cipher.Open(ctx, b.Value, d.binding(key, attr)); err != nil {
			return Installation{}, fmt.Errorf("get installation %s: %s: %w", key, attr, err)
		}
	}
	return in, nil
}

// Save implements Store: it writes over whatever version is stored, read
// just before, so a refresh in flight on the old install loses.
func (d *Dynamo) Save(ctx context.Context, in Installation) (Installation, error) {
	in.RefreshingUntil = time.Time{}
	for range 5 {
		out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(d.Table), Key: d.keyOf(in.Key()), ConsistentRead: aws.Bool(true),
			ProjectionExpression: aws.String(attrVersion),
		})
		if err != nil {
			return Installation{}, fmt.Errorf("save installation %s: %w", in.Key(), err)
		}
		in.Version = num(out.Item, attrVersion)
		saved, err := d.put(ctx, in, len(out.Item) == 0)
		if !errors.Is(err, ErrConflict) {
			return saved, err
		}
	}
	return Installation{}, fmt.Errorf("save installation %s: %w", in.Key(), ErrConflict)
}

// Update implements Store.
func (d *Dynamo) Update(ctx context.Context, in Installation) (Installation, error) {
	out, err := d.put(ctx, in, false)
	if errors.Is(err, ErrConflict) && in.Version == 0 {
		return Installation{}, ErrNotFound
	}
	return out, err
}

// put writes in at in.Version+1, if the stored item is at in.Version (or
// absent, when fresh).
func (d *Dynamo) put(ctx context.Context, in Installation, fresh bool) (Installation, error) {
	key := in.Key()
	if key == "" {
		return Installation{}, errors.New("save installation: it names no team or org")
	}
	item := map[string]types.AttributeValue{
		attrKey:     &types.AttributeValueMemberS{Value: key},
		attrOrg:     &types.AttributeValueMemberBOOL{Value: in.EnterpriseInstall},
		attrVersion: &types.AttributeValueMemberN{Value: strconv.FormatInt(in.Version+1, 10)},
	}
	for attr, v := range map[string]string{
		attrTeam: in.TeamID, attrTeamName: in.TeamName, attrEnterprise: in.EnterpriseID,
		attrEntName: in.EnterpriseName, attrApp: in.AppID, attrBotUser: in.BotUserID,
		attrBotID: in.BotID, attrScopes: in.Scopes, attrInstaller: in.InstallerUserID,
	} {
		if v != "" {
			item[attr] = &types.AttributeValueMemberS{Value: v}
		}
	}
	for attr, t := range map[string]time.Time{attrExpires: in.ExpiresAt, attrInstalledAt: in.InstalledAt, attrRefreshUntil: in.RefreshingUntil} {
		if !t.IsZero() {
			item[attr] = &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
		}
	}
	for attr, v := range map[string]string{attrBotToken: in.BotToken, attrRefresh: in.RefreshToken} {
		if v == "" {
			continue
		}
		sealed, err := d.Cipher.Seal(ctx, v, d.binding(key, attr))
		if err != nil {
			return Installation{}, fmt.Errorf("save installation %s: %s: %w", key, attr, err)
		}
		item[attr] = &types.AttributeValueMemberB{Value: sealed}
	}
	cond, values := "#v = :v", map[string]types.AttributeValue{
		":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(in.Version, 10)},
	}
	if fresh {
		cond, values = "attribute_not_exists(#k)", nil
	}
	names := map[string]string{"#v": attrVersion}
	if fresh {
		names = map[string]string{"#k": attrKey}
	}
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table), Item: item,
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return Installation{}, ErrConflict
	}
	if err != nil {
		return Installation{}, fmt.Errorf("save installation %s: %w", key, err)
	}
	in.Version++
	return in, nil
}

// Delete implements Store.
func (d *Dynamo) Delete(ctx context.Context, key string) error {
	if _, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.Table), Key: d.keyOf(key)}); err != nil {
		return fmt.Errorf("delete installation %s: %w", key, err)
	}
	return nil
}

func str(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func boolean(it map[string]types.AttributeValue, name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func num(it map[string]types.AttributeValue, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func unixTime(it map[string]types.AttributeValue, name string) time.Time {
	if n := num(it, name); n != 0 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

// Open is the Dynamo store of a deployment: table, with tokens encrypted
// under the KMS key keyID, both through awsCfg.
func Open(db DynamoAPI, awsCfg aws.Config, table, keyID string) *Dynamo {
	return &Dynamo{Client: db, Table: table, Cipher: KMS{Client: kms.NewFromConfig(awsCfg), KeyID: keyID}}
}
