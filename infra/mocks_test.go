package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
)

const (
	testRegion  = "ap-northeast-2"
	testAccount = "123456789012"
	testAPIID   = "a1b2c3d4e5"
)

// registered is one resource as the program registered it.
type registered struct {
	Type, Name string
	Custom     bool
	ID         string
	Inputs     resource.PropertyMap
	State      resource.PropertyMap
	Parent     resource.URN
	Deps       []resource.URN
	// Aliases are the names the resource was known by before, so a
	// deployed stack updates it in place.
	Aliases []string
}

// in returns an input as a plain Go value (secrets and outputs unwrapped).
func (r *registered) in(key string) any { return plain(r.Inputs[resource.PropertyKey(key)]) }

// out returns a state property as a plain Go value.
func (r *registered) out(key string) any { return plain(r.State[resource.PropertyKey(key)]) }

func (r *registered) str(key string) string {
	s, _ := r.in(key).(string)
	return s
}

func (r *registered) outStr(key string) string {
	s, _ := r.out(key).(string)
	return s
}

// dependsOn reports whether r lists other among its dependencies.
func (r *registered) dependsOn(other *registered) bool {
	for _, d := range r.Deps {
		if string(d.Type()) == other.Type && d.Name() == other.Name {
			return true
		}
	}
	return false
}

// parentIs reports whether r's parent is the component typ/name.
func (r *registered) parentIs(typ, name string) bool {
	return r.Parent != "" && string(r.Parent.Type()) == typ && r.Parent.Name() == name
}

func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsComputed():
		return nil
	case v.IsNull():
		return nil
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		var a []any
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	}
	return v.V
}

// mocks answers the program's registrations the way AWS would, with plausible
// ids and ARNs, and records every resource.
type mocks struct {
	mu        sync.Mutex
	resources []*registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	state := args.Inputs.Copy()
	set := func(k string, v any) { state[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	get := func(k string) string {
		s, _ := plain(args.Inputs[resource.PropertyKey(k)]).(string)
		return s
	}
	name := get("name")
	if name == "" {
		name = args.Name + "-0a1b2c3" // Pulumi's auto-naming adds a random suffix
	}
	id := name
	arn := func(service, rest string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, testRegion, testAccount, rest)
	}

	switch args.TypeToken {
	case "aws:lambda/function:Function":
		fnArn := arn("lambda", "function:"+name)
		set("name", name)
		set("arn", fnArn)
		set("invokeArn", fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", testRegion, fnArn))
	case "aws:iam/role:Role":
		set("name", name)
		set("arn", fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, name))
	case "aws:iam/rolePolicy:RolePolicy":
		id = get("role") + ":" + name
	case "aws:cloudwatch/logGroup:LogGroup":
		set("name", name)
		set("arn", arn("logs", "log-group:"+name))
	case "aws:kms/key:Key":
		id = "0a1b2c3d-4e5f-4a6b-8c7d-000000000001"
		set("keyId", id)
		set("arn", arn("kms", "key/"+id))
	case "aws:dynamodb/table:Table":
		set("name", name)
		set("arn", arn("dynamodb", "table/"+name))
	case "aws:secretsmanager/secret:Secret":
		id = arn("secretsmanager", "secret:"+name+"-AbCdEf")
		set("name", name)
		set("arn", id)
	case "aws:secretsmanager/secretVersion:SecretVersion":
		set("versionId", "00000000-0000-4000-8000-000000000001")
		set("arn", get("secretId"))
		id = get("secretId") + "|00000000-0000-4000-8000-000000000001"
	case "aws:apigateway/restApi:RestApi":
		id = testAPIID
		set("name", name)
		set("rootResourceId", "r00tid0000")
		set("executionArn", arn("execute-api", testAPIID))
		set("arn", fmt.Sprintf("arn:aws:apigateway:%s::/restapis/%s", testRegion, testAPIID))
	case "aws:apigateway/resource:Resource":
		id = "res-" + args.Name
	case "aws:apigateway/method:Method":
		id = "agm-" + args.Name
	case "aws:apigateway/integration:Integration":
		id = "agi-" + args.Name
	case "aws:apigateway/deployment:Deployment":
		id = "dep0000001"
	case "aws:apigateway/stage:Stage":
		stage := get("stageName")
		id = "ags-" + testAPIID + "-" + stage
		set("invokeUrl", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s", get("restApi"), testRegion, stage))
		set("executionArn", arn("execute-api", get("restApi")+"/"+stage))
	case "aws:cloudwatch/eventRule:EventRule":
		set("name", name)
		set("arn", arn("events", "rule/"+name))
	case "aws:lambda/permission:Permission":
		id = args.Name
	case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
		id = get("functionName")
	case "aws:sqs/queue:Queue":
		id = fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", testRegion, testAccount, name)
		set("name", name)
		set("url", id)
		set("arn", arn("sqs", name))
	case "aws:sqs/queuePolicy:QueuePolicy":
		id = get("queueUrl")
	case "aws:sns/topic:Topic":
		id = arn("sns", name)
		set("name", name)
		set("arn", id)
	case "aws:sns/topicPolicy:TopicPolicy":
		id = get("arn")
	case "aws:sns/topicSubscription:TopicSubscription":
		id = get("topic") + ":00000000-0000-4000-8000-0000000000a1"
		set("arn", id)
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		set("arn", arn("cloudwatch", "alarm:"+name))
	}
	if !args.Custom {
		id = ""
	}

	r := &registered{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, ID: id,
		Inputs: args.Inputs, State: state}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = resource.URN(rpc.GetParent())
		for _, d := range rpc.GetDependencies() {
			r.Deps = append(r.Deps, resource.URN(d))
		}
		for _, a := range rpc.GetAliases() {
			r.Aliases = append(r.Aliases, a.GetSpec().GetName())
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return id, state, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": testAccount, "accountId": testAccount, "arn": "arn:aws:iam::" + testAccount + ":user/deployer", "userId": "AIDAEXAMPLE",
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": testRegion, "name": testRegion, "endpoint": "ec2." + testRegion + ".amazonaws.com", "description": "test region",
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws",
		}), nil
	}
	return nil, fmt.Errorf("mocks: no answer for %s", args.Token)
}

func (m *mocks) ofType(typ string) []*registered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*registered
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m *mocks) named(t *testing.T, typ, name string) *registered {
	t.Helper()
	for _, r := range m.ofType(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %q", typ, name)
	return nil
}

// run is one run of the program under mocks.
type run struct {
	*mocks
	outputs map[string]internals.UnsafeAwaitOutputResult
	builds  []string // the GOARCH of each build the program asked for
	arts    map[string]*lambdabuild.Artifact
}

func (r *run) output(t *testing.T, name string) string {
	t.Helper()
	o, ok := r.outputs[name]
	if !ok {
		t.Fatalf("no stack output %q", name)
	}
	s, ok := o.Value.(string)
	if !ok || !o.Known {
		t.Fatalf("stack output %q = %#v, want a known string", name, o.Value)
	}
	return s
}

// Test credentials: distinctive, so a leak is found by a plain substring search.
var testSecrets = map[string]string{
	keySigningSecret:     "signing-5ecret-0f1e2d3c4b5a69788796a5b4",
	keyBotToken:          "xoxb-0000-1111-bot-token-for-tests",
	keyWebhookURL:        "https://hooks.slack.com/services/T000/B000/webhook5ecret",
	keyVerificationToken: "legacy-verification-token-for-tests",
	keyClientSecret:      "0auth-client-5ecret-for-tests-9d8c7b",
}

// testClientID is the app's client id: not a secret, and in the secret's
// document beside the client secret.
const testClientID = "1234567890.9876543210"

// baseConfig is a full configuration: every credential set.
func baseConfig() map[string]string {
	c := map[string]string{"aws:region": testRegion}
	for k, v := range testSecrets {
		c["slackbot:"+k] = v
	}
	c["slackbot:"+keyClientID] = testClientID
	return c
}

// setConfig passes configuration the way the Pulumi CLI does.
func setConfig(t *testing.T, cfg map[string]string) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(b))
	var secret []string
	for _, k := range secretKeys {
		if _, ok := cfg["slackbot:"+k]; ok {
			secret = append(secret, "slackbot:"+k)
		}
	}
	sort.Strings(secret)
	b, err = json.Marshal(secret)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfigSecretKeys, string(b))
}

// fakeBuild stands in for the compiler: the resource graph does not depend on
// what the functions contain, and the real builds have tests of their own.
func fakeBuild(t *testing.T, r *run) builder {
	dir := t.TempDir()
	return func(_ context.Context, goarch string, names []string) (map[string]*lambdabuild.Artifact, error) {
		r.builds = append(r.builds, goarch)
		out := map[string]*lambdabuild.Artifact{}
		for _, n := range names {
			z, err := lambdabuild.Zip([]byte("fake " + goarch + " " + n))
			if err != nil {
				return nil, err
			}
			p := filepath.Join(dir, n+".zip")
			if err := os.WriteFile(p, z, 0o644); err != nil {
				return nil, err
			}
			out[n] = &lambdabuild.Artifact{Name: n, Path: p, Zip: z, SHA256: "hash-of-" + n + "-" + goarch}
		}
		r.arts = out
		return out, nil
	}
}

// runProgram runs newSlackbot under mocks with cfg and awaits every stack output.
func runProgram(t *testing.T, stack string, cfg map[string]string) (*run, error) {
	t.Helper()
	setConfig(t, cfg)
	r := &run{mocks: &mocks{}, outputs: map[string]internals.UnsafeAwaitOutputResult{}}
	build := fakeBuild(t, r)
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		outs, err := newSlackbot(ctx, build)
		if err != nil {
			return err
		}
		for name, v := range outs {
			res, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			r.outputs[name] = res
		}
		return nil
	}, pulumi.WithMocks("slackbot", stack, r.mocks))
	return r, err
}

func mustRun(t *testing.T, cfg map[string]string) *run {
	t.Helper()
	r, err := runProgram(t, "dev", cfg)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return r
}

// strings of a property value, with whether each sat under a secret.
func walkStrings(v resource.PropertyValue, secret bool, fn func(s string, secret bool)) {
	switch {
	case v.IsSecret():
		walkStrings(v.SecretValue().Element, true, fn)
	case v.IsOutput():
		walkStrings(v.OutputValue().Element, secret || v.OutputValue().Secret, fn)
	case v.IsString():
		fn(v.StringValue(), secret)
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			fn(string(k), secret)
			walkStrings(e, secret, fn)
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			walkStrings(e, secret, fn)
		}
	case v.IsArchive():
		a := v.ArchiveValue()
		fn(a.Path, secret)
		fn(a.URI, secret)
	case v.IsAsset():
		a := v.AssetValue()
		fn(a.Path, secret)
		fn(a.Text, secret)
	}
}

func containsAny(s string, needles map[string]string) (string, bool) {
	for k, n := range needles {
		if n != "" && strings.Contains(s, n) {
			return k, true
		}
	}
	return "", false
}
