package installstore_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
)

// TestKMSIsTheSDKsRequest: KMS's Encrypt and Decrypt send what the SDK's
// KMS client sends (target, content type, the JSON body with its base64
// blobs and encryption context, a signature for KMS in the region), and
// read the answers the SDK reads.
func TestKMSIsTheSDKsRequest(t *testing.T) {
	var reqs []*http.Request
	var bodies []map[string]any
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		reqs, bodies = append(reqs, r), append(bodies, m)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		// "Y2lwaGVy" is "cipher", "dG9rZW4=" is "token".
		w.Write([]byte(`{"CiphertextBlob":"Y2lwaGVy","KeyId":"k","Plaintext":"dG9rZW4="}`))
	}))
	defer api.Close()
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_KMS": api.URL}
	cfg := awsenv.Load(func(k string) string { return env[k] })
	ctx := context.Background()
	binding := map[string]string{"team": "T1", "field": "bot_token"}

	sdk := kms.NewFromConfig(cfg)
	if _, err := sdk.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/k"), Plaintext: []byte("token"), EncryptionContext: binding}); err != nil {
		t.Fatal(err)
	}
	k := installstore.KMS{Client: installstore.KMSClient{AWS: cfg}, KeyID: "alias/k"}
	sealed, err := k.Seal(ctx, "token", binding)
	if err != nil || string(sealed) != "cipher" {
		t.Fatalf("Seal = %q, %v", sealed, err)
	}
	if _, err := sdk.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String("alias/k"), CiphertextBlob: []byte("cipher"), EncryptionContext: binding}); err != nil {
		t.Fatal(err)
	}
	opened, err := k.Open(ctx, []byte("cipher"), binding)
	if err != nil || opened != "token" {
		t.Fatalf("Open = %q, %v", opened, err)
	}
	for i := 0; i < 4; i += 2 {
		sdk, ours := reqs[i], reqs[i+1]
		for _, h := range []string{"X-Amz-Target", "Content-Type"} {
			if sdk.Header.Get(h) != ours.Header.Get(h) {
				t.Errorf("%s %q, want the SDK's %q", h, ours.Header.Get(h), sdk.Header.Get(h))
			}
		}
		if !reflect.DeepEqual(bodies[i], bodies[i+1]) {
			t.Errorf("%s body %v, want the SDK's %v", ours.Header.Get("X-Amz-Target"), bodies[i+1], bodies[i])
		}
		if !strings.Contains(ours.Header.Get("Authorization"), "/eu-west-1/kms/aws4_request") {
			t.Errorf("Authorization %q: not signed for KMS in eu-west-1", ours.Header.Get("Authorization"))
		}
	}
}
