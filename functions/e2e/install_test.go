package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	clientID        = "4242.1717"
	clientSecret    = "e2e-client-secret-value"
	installedToken  = "xoxb-e2e-installed-alpha"
	apiDomain       = "e2eapi.execute-api.eu-west-1.amazonaws.com"
	oauthRedirectTo = "https://" + apiDomain + "/e2e" + contract.OAuthRedirectPath
)

// browserRequest is API Gateway's event for a browser's GET on the stage e2e.
func browserRequest(path string, query url.Values, cookie string) events.APIGatewayProxyRequest {
	h := map[string]string{"Host": apiDomain, "X-Forwarded-Proto": "https"}
	if cookie != "" {
		h["Cookie"] = cookie
	}
	return events.APIGatewayProxyRequest{
		Resource: path, Path: path, HTTPMethod: http.MethodGet, Headers: h,
		MultiValueQueryStringParameters: query,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "e2e-browser", ResourcePath: path,
			HTTPMethod: http.MethodGet, Stage: "e2e", Path: "/e2e" + path, DomainName: apiDomain},
	}
}

// TestInstallByOAuth runs the shipped commands and events bootstraps under
// the Lambda emulator, with the secret, the dedupe and installations tables
// and the KMS key on moto: a workspace installs the app by clicking, its
// token is stored only encrypted, its mentions are answered with its token
// while the configured workspace keeps its own, an unknown workspace gets
// nothing, and after app_uninstalled nothing is posted there.
func TestInstallByOAuth(t *testing.T) {
	ctx := context.Background()
	moto := testenv.NewMoto(t)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(contract.Secret{SigningSecret: signingSecret, BotToken: botToken, ClientID: clientID, ClientSecret: clientSecret})
	out, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("slackbot/e2e-install"), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		t.Fatal(err)
	}
	moto.CreateDedupeTable(t, dedupeTable)
	db, _, table, key := moto.InstallationsTable(t)
	slack := testenv.NewSlack(t, botToken, map[string]string{"general": "C0GENERAL1"})
	slack.SetClient(clientID, clientSecret)
	slack.AddGrant(testenv.Grant{Code: "e2e-code", Team: "T0ALPHA001", TeamName: "Alpha", BotToken: installedToken,
		BotUserID: "U0BOT", Installer: "U0ADMIN", RedirectURI: oauthRedirectTo})
	env := append(moto.Env(),
		contract.EnvSecretARN+"="+*out.ARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvDedupeTable+"="+dedupeTable,
		contract.EnvInstallationsTable+"="+table,
		contract.EnvTokenKey+"="+key,
	)
	commands := testenv.StartLambda(t, bootstraps(t)[contract.CommandsFunction], env)
	eventsFn := testenv.StartLambda(t, bootstraps(t)[contract.EventsFunction], env)

	invoke := func(fn *testenv.Lambda, req events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
		t.Helper()
		var resp events.APIGatewayProxyResponse
		if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// The install: a 302 to Slack with the state and its cookie.
	resp := invoke(commands, browserRequest(contract.InstallPath, nil, ""))
	loc, err := url.Parse(resp.Headers["Location"])
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("redirect_uri") != oauthRedirectTo ||
		loc.Query().Get("client_id") != clientID || loc.Query().Get("scope") != strings.Join(contract.BotScopes, ",") {
		t.Fatalf("install: %d %v", resp.StatusCode, resp.Headers)
	}
	c, err := http.ParseSetCookie(resp.Headers["Set-Cookie"])
	if err != nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %q: %v", resp.Headers["Set-Cookie"], err)
	}
	back := url.Values{"code": {"e2e-code"}, "state": {loc.Query().Get("state")}}

	if resp := invoke(commands, browserRequest(contract.OAuthRedirectPath, back, "")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("redirect without the cookie: %d, want 400", resp.StatusCode)
	}
	resp = invoke(commands, browserRequest(contract.OAuthRedirectPath, back, c.Name+"="+c.Value))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "<strong>Alpha</strong>") {
		t.Fatalf("redirect: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := invoke(commands, browserRequest(contract.OAuthRedirectPath, back, c.Name+"="+c.Value)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed redirect: %d, want 400", resp.StatusCode)
	}
	if n := slack.Exchanges(); n != 1 {
		t.Errorf("%d exchanges, want 1", n)
	}
	item, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{contract.InstallationKey: &types.AttributeValueMemberS{Value: "T:T0ALPHA001"}}})
	if err != nil || len(item.Item) == 0 {
		t.Fatalf("no installation stored: %v", err)
	}
	if b, ok := item.Item["bot_token"].(*types.AttributeValueMemberB); !ok || bytes.Contains(b.Value, []byte(installedToken)) {
		t.Errorf("the stored bot token is not ciphertext: %T", item.Item["bot_token"])
	}

	seq := 0
	event := func(team, inner string) events.APIGatewayProxyRequest {
		seq++
		return signedRequest(contract.EventsPath, fmt.Sprintf(
			`{"type":"event_callback","team_id":%q,"event_id":"EvInstall%d","authorizations":[{"team_id":%q,"is_bot":true}],"event":%s}`,
			team, seq, team, inner))
	}
	mention := `{"type":"app_mention","user":"U1","text":"<@U0BOT> hi","channel":"C0GENERAL1","ts":"1.2","event_ts":"1.2"}`
	for _, team := range []string{"T0ALPHA001", testenv.HomeTeam, "T0UNKNOWN1"} {
		if resp := invoke(eventsFn, event(team, mention)); resp.StatusCode != http.StatusOK {
			t.Fatalf("mention from %s: %d %s", team, resp.StatusCode, resp.Body)
		}
	}
	if got := slack.PostTokens(); fmt.Sprint(got) != fmt.Sprint([]string{installedToken, botToken}) {
		t.Errorf("posts carried %v, want the installed workspace's token, then the configured one's", got)
	}

	if resp := invoke(eventsFn, event("T0ALPHA001", `{"type":"app_uninstalled","event_ts":"1.3"}`)); resp.StatusCode != http.StatusOK {
		t.Fatalf("app_uninstalled: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := invoke(eventsFn, event("T0ALPHA001", mention)); resp.StatusCode != http.StatusOK {
		t.Fatalf("mention after the uninstall: %d %s", resp.StatusCode, resp.Body)
	}
	if n := len(slack.PostTokens()); n != 2 {
		t.Errorf("%d posts, want nothing more after the uninstall", n)
	}
	item, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{contract.InstallationKey: &types.AttributeValueMemberS{Value: "T:T0ALPHA001"}}})
	if err != nil || len(item.Item) != 0 {
		t.Errorf("the installation outlived app_uninstalled (%v)", err)
	}
	for name, fn := range map[string]*testenv.Lambda{"commands": commands, "events": eventsFn} {
		testenv.NoSecretsIn(t, name+" logs", fn.Logs(), installedToken, botToken, clientSecret, signingSecret, "e2e-code")
	}
}
