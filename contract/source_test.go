package contract

import (
	"strings"
	"testing"
)

func TestParseLatencySources(t *testing.T) {
	good := `[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod","fields":{"latency":"duration_ms"}},
	 {"name":"workers","kind":"lambda","functions":["billing","orders-worker"],"maxRoutes":500},
	 {"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/AWSLogs/","routes":["/files/{name}","/"],"maxRoutes":1}]`
	sources, err := ParseLatencySources(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 3 || sources[0].RouteLimit() != DefaultMaxRoutes || sources[2].RouteLimit() != 1 {
		t.Fatalf("sources = %+v", sources)
	}
	if g := sources[1].SubscribedLogGroups(); len(g) != 2 || g[0] != "/aws/lambda/billing" {
		t.Errorf("lambda log groups = %q", g)
	}
	if g := sources[2].SubscribedLogGroups(); len(g) != 0 {
		t.Errorf("alb log groups = %q, want none", g)
	}
	if none, err := ParseLatencySources(" "); err != nil || none != nil {
		t.Errorf("empty = %v, %v", none, err)
	}

	all, err := ParseLatencySources(`[{"name":"fns","kind":"lambda","functions":["*"]},{"name":"billing","kind":"lambda","functions":["billing"]}]`)
	if err != nil || !all[0].ReadsAllFunctions() || all[1].ReadsAllFunctions() {
		t.Fatalf("all functions beside a named one: %+v, %v", all, err)
	}
	if g := all[0].SubscribedLogGroups(); g != nil {
		t.Errorf("every function's source subscribes no group by name, got %q", g)
	}

	bad := []struct{ json, want string }{
		{`{}`, "JSON array"},
		{`[{"name":"Orders","kind":"apigateway","logGroup":"g"}]`, `source 0: name "Orders"`},
		{`[{"name":"","kind":"apigateway","logGroup":"g"}]`, "source 0: name"},
		{`[{"name":"a","kind":"apigateway","logGroup":"g"},{"name":"a","kind":"apigateway","logGroup":"h"}]`, "source 1: name \"a\" is taken by source 0"},
		{`[{"name":"slackbot","kind":"apigateway","logGroup":"g"}]`, "bot's own API"},
		{`[{"name":"a","kind":"apigateway"}]`, "logGroup is missing"},
		{`[{"name":"a","kind":"lambda"}]`, "functions is missing"},
		{`[{"name":"a","kind":"lambda","functions":["*","billing"]}]`, `latency source 0: function "*": a wildcard stands alone`},
		{`[{"name":"a","kind":"lambda","functions":["orders-*"]}]`, `latency source 0: function "orders-*": a wildcard stands alone`},
		{`[{"name":"a","kind":"lambda","functions":["*"],"logGroups":["/x"]}]`, "logGroups does not apply"},
		{`[{"name":"a","kind":"lambda","functions":["*"]},{"name":"b","kind":"lambda","functions":["*"]}]`, "source 1: source 0 already reads every function"},
		{`[{"name":"a","kind":"alb"}]`, "bucket is missing"},
		{`[{"name":"a","kind":"nginx"}]`, `kind "nginx"`},
		{`[{"name":"a"}]`, "kind is missing"},
		{`[{"name":"a","kind":"lambda","functions":["f"],"maxRoutes":501}]`, "maxRoutes 501"},
		{`[{"name":"a","kind":"lambda","functions":["f"],"maxRoutes":-1}]`, "maxRoutes -1"},
		{`[{"name":"a","kind":"alb","bucket":"b","routes":["files/{name}"]}]`, "is not a path"},
		{`[{"name":"a","kind":"alb","bucket":"b","routes":["/files/{na me}"]}]`, "is not a path"},
		{`[{"name":"a","kind":"alb","bucket":"b","routes":["/a?b"]}]`, "is not a path"},
		{`[{"name":"a","kind":"alb","bucket":"b","logGroup":"g"}]`, "logGroup does not apply"},
		{`[{"name":"a","kind":"apigateway","logGroup":"g","fields":{"path":"p"}}]`, "fields.path"},
		{`[{"name":"a","kind":"apigateway","logGroup":"g","extra":1}]`, "unknown field"},
		{`[{"name":"a","kind":"lambda","functions":["arn:aws:lambda:x"]}]`, "not an ARN"},
		{`[{"name":"a","kind":"apigateway","logGroup":"g"},{"name":"b","kind":"lambda","functions":["f"],"logGroups":["g"]}]`, "already read by source 0"},
	}
	for _, tt := range bad {
		_, err := ParseLatencySources(tt.json)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLatencySources(%s) = %v, want an error containing %q", tt.json, err, tt.want)
		}
	}
}
