package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// A LatencySource is one service whose latency percentiles the bot keeps, as
// the stack config latencySources lists them and the percentiles function
// reads them from EnvLatencySources (the same JSON array):
//
//	[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"},
//	 {"name":"workers","kind":"lambda","functions":["billing","orders-worker"]},
//	 {"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/AWSLogs/","routes":["/files/{name}"]}]
//
// The bot's own API is the source named DefaultSource: always there, never
// configured.
type LatencySource struct {
	// Name is how reports, commands and alert rules name the source:
	// IsSourceName, unique, and never DefaultSource.
	Name string `json:"name"`
	// Kind is SourceAPIGateway, SourceLambda or SourceALB.
	Kind string `json:"kind"`

	// LogGroup (apigateway) is the JSON access log of a REST or HTTP API
	// stage of this account and region.
	LogGroup string `json:"logGroup,omitempty"`
	// Fields (apigateway) names the JSON keys of a format of the team's
	// own: FieldRoute, FieldLatency, FieldStatus and FieldTime.
	Fields map[string]string `json:"fields,omitempty"`

	// Functions (lambda) are the function names whose REPORT lines are
	// read, or AllFunctions alone for every function of the account and
	// region but the bot's own. LogGroups, when given, are where they log
	// instead of /aws/lambda/<function> (a function's
	// LoggingConfig.LogGroup).
	Functions []string `json:"functions,omitempty"`
	LogGroups []string `json:"logGroups,omitempty"`

	// Bucket and Prefix (alb) are where a load balancer writes its gzip
	// access logs. Routes are path patterns whose {name} segments match any
	// one segment, so /files/{name} makes one route of every file.
	Bucket string   `json:"bucket,omitempty"`
	Prefix string   `json:"prefix,omitempty"`
	Routes []string `json:"routes,omitempty"`

	// MaxRoutes bounds the distinct routes kept (any kind): requests of
	// any further route count under OtherRoute. 0 means DefaultMaxRoutes.
	MaxRoutes int `json:"maxRoutes,omitempty"`
}

// Kinds of LatencySource.
const (
	SourceAPIGateway = "apigateway"
	SourceLambda     = "lambda"
	SourceALB        = "alb"
)

// AllFunctions, as a lambda source's only function, reads every function of
// the account and region through one account-level subscription filter
// policy, which leaves out the bot's own log groups.
const AllFunctions = "*"

// FunctionLogPrefix begins the log group Lambda gives each function.
const FunctionLogPrefix = "/aws/lambda/"

// Keys of LatencySource.Fields.
const (
	FieldRoute   = "route"
	FieldLatency = "latency"
	FieldStatus  = "status"
	FieldTime    = "time"
)

// DefaultSource is the bot's own API: the stage's access log the program
// creates. Sketch items written before sources existed belong to it.
const DefaultSource = "slackbot"

// DefaultSourceOf is the source a command, a report button or an alert
// rule means when it names none: the first configured source, since a team
// that lists its services mostly wants those, else the bot's own API.
func DefaultSourceOf(sources []LatencySource) string {
	if len(sources) > 0 {
		return sources[0].Name
	}
	return DefaultSource
}

// OtherRoute is the route that counts a source's requests beyond its
// MaxRoutes distinct routes, so totals stay exact while the table and the
// reports stay bounded whatever paths clients send.
const OtherRoute = "(other)"

// Bounds of LatencySource.MaxRoutes.
const (
	DefaultMaxRoutes = 50
	MaxMaxRoutes     = 500
)

// MaxLatencySources bounds the list: each source is one report on the
// schedule and one set of subscriptions.
const MaxLatencySources = 20

// sourceNamePattern is what a source's name must match (IsSourceName).
// The patterns are compiled on first use, not at every cold start of
// every function that links this package.
var sourceNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9-]{1,32}$`) })

// IsSourceName tells whether name is a valid source name: [a-z0-9-]{1,32}.
func IsSourceName(name string) bool { return sourceNamePattern().MatchString(name) }

// routePattern is a path pattern: "/" then segments, each literal or {name}.
var routePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(/([A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+/?$|^/$`)
})

// RouteLimit is s's MaxRoutes with the default applied.
func (s LatencySource) RouteLimit() int {
	if s.MaxRoutes == 0 {
		return DefaultMaxRoutes
	}
	return s.MaxRoutes
}

// ReadsAllFunctions says s is a lambda source of AllFunctions.
func (s LatencySource) ReadsAllFunctions() bool {
	return s.Kind == SourceLambda && len(s.Functions) == 1 && s.Functions[0] == AllFunctions
}

// FunctionLogGroups are the log groups a lambda source reads by name:
// LogGroups when given, else each function's default /aws/lambda/<name>;
// none for AllFunctions, whose groups are whichever the account has.
func (s LatencySource) FunctionLogGroups() []string {
	if s.Kind != SourceLambda || s.ReadsAllFunctions() {
		return nil
	}
	if len(s.LogGroups) > 0 {
		return s.LogGroups
	}
	groups := make([]string, 0, len(s.Functions))
	for _, f := range s.Functions {
		groups = append(groups, FunctionLogPrefix+f)
	}
	return groups
}

// SubscribedLogGroups are the CloudWatch Logs groups whose batches belong to
// s: its access log, or its functions' groups. An alb source has none.
func (s LatencySource) SubscribedLogGroups() []string {
	switch s.Kind {
	case SourceAPIGateway:
		return []string{s.LogGroup}
	case SourceLambda:
		return s.FunctionLogGroups()
	}
	return nil
}

// ParseLatencySources reads EnvLatencySources (or the stack's
// latencySources). Empty means none beyond DefaultSource. An error names the
// source by its index (from 0) and says what is wrong with it.
func ParseLatencySources(s string) ([]LatencySource, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("latency sources: want a JSON array of sources like %s: %w",
			`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"}]`, err)
	}
	if dec.More() {
		return nil, errors.New("latency sources: text after the JSON array")
	}
	if len(raw) > MaxLatencySources {
		return nil, fmt.Errorf("latency sources: %d sources, at most %d", len(raw), MaxLatencySources)
	}
	sources := make([]LatencySource, 0, len(raw))
	names := map[string]int{}
	groups := map[string]int{}
	all := -1 // the AllFunctions source
	for i, r := range raw {
		src, err := parseLatencySource(r)
		if err != nil {
			return nil, fmt.Errorf("latency source %d: %w", i, err)
		}
		if j, dup := names[src.Name]; dup {
			return nil, fmt.Errorf("latency source %d: name %q is taken by source %d", i, src.Name, j)
		}
		names[src.Name] = i
		if src.ReadsAllFunctions() {
			if all >= 0 {
				// The second policy would read the same lines again.
				return nil, fmt.Errorf("latency source %d: source %d already reads every function (%q)", i, all, AllFunctions)
			}
			all = i
		}
		for _, g := range src.SubscribedLogGroups() {
			if j, dup := groups[g]; dup {
				return nil, fmt.Errorf("latency source %d: log group %q is already read by source %d", i, g, j)
			}
			groups[g] = i
		}
		sources = append(sources, src)
	}
	return sources, nil
}

func parseLatencySource(b []byte) (LatencySource, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s LatencySource
	if err := dec.Decode(&s); err != nil {
		return LatencySource{}, fmt.Errorf("want an object with name, kind and the kind's settings: %w", err)
	}
	switch {
	case s.Name == DefaultSource:
		return LatencySource{}, fmt.Errorf("name %q is the bot's own API, always a source: choose another name", DefaultSource)
	case !IsSourceName(s.Name):
		return LatencySource{}, fmt.Errorf("name %q: want 1 to 32 of a-z, 0-9 and -", s.Name)
	case s.MaxRoutes != 0 && (s.MaxRoutes < 1 || s.MaxRoutes > MaxMaxRoutes):
		return LatencySource{}, fmt.Errorf("maxRoutes %d: want 1 to %d", s.MaxRoutes, MaxMaxRoutes)
	}
	// Settings of another kind are a mistake worth saying: a lambda source
	// with a bucket would silently read nothing from it.
	other := func(field string, set bool) error {
		if set {
			return fmt.Errorf("%s does not apply to kind %q", field, s.Kind)
		}
		return nil
	}
	var errs []error
	switch s.Kind {
	case SourceAPIGateway:
		if s.LogGroup == "" {
			return LatencySource{}, errors.New(`logGroup is missing: the stage's access log group, like "/aws/apigateway/orders-prod"`)
		}
		for k, v := range s.Fields {
			switch k {
			case FieldRoute, FieldLatency, FieldStatus, FieldTime:
				if strings.TrimSpace(v) == "" {
					return LatencySource{}, fmt.Errorf("fields.%s is empty: name the JSON key that holds it", k)
				}
			default:
				return LatencySource{}, fmt.Errorf("fields.%s: want route, latency, status or time", k)
			}
		}
		errs = append(errs, other("functions", len(s.Functions) > 0), other("logGroups", len(s.LogGroups) > 0),
			other("bucket", s.Bucket != ""), other("prefix", s.Prefix != ""), other("routes", len(s.Routes) > 0))
	case SourceLambda:
		if len(s.Functions) == 0 {
			return LatencySource{}, errors.New(`functions is missing: the function names, like ["billing"]`)
		}
		if s.ReadsAllFunctions() && len(s.LogGroups) > 0 {
			return LatencySource{}, fmt.Errorf("logGroups does not apply to functions [%q], which reads the group of every function", AllFunctions)
		}
		for _, f := range s.Functions {
			if strings.Contains(f, "*") && !s.ReadsAllFunctions() {
				// A pattern would need a subscription per matching group,
				// made when the function is: only all or named ones.
				return LatencySource{}, fmt.Errorf("function %q: a wildcard stands alone, as [%q] for every function: list the function names", f, AllFunctions)
			}
			if strings.TrimSpace(f) == "" || strings.ContainsAny(f, " /:") {
				return LatencySource{}, fmt.Errorf("function %q: want a function name, not an ARN or a path", f)
			}
		}
		for _, g := range s.LogGroups {
			if strings.TrimSpace(g) == "" {
				return LatencySource{}, errors.New("logGroups has an empty name")
			}
		}
		errs = append(errs, other("logGroup", s.LogGroup != ""), other("fields", len(s.Fields) > 0),
			other("bucket", s.Bucket != ""), other("prefix", s.Prefix != ""), other("routes", len(s.Routes) > 0))
	case SourceALB:
		if s.Bucket == "" {
			return LatencySource{}, errors.New(`bucket is missing: the S3 bucket the load balancer writes its access logs to`)
		}
		if strings.HasPrefix(s.Prefix, "/") {
			return LatencySource{}, fmt.Errorf("prefix %q: an S3 key prefix does not start with /", s.Prefix)
		}
		for _, p := range s.Routes {
			if !routePattern().MatchString(p) {
				return LatencySource{}, fmt.Errorf("route pattern %q is not a path: want segments like /files/{name}", p)
			}
		}
		errs = append(errs, other("logGroup", s.LogGroup != ""), other("fields", len(s.Fields) > 0),
			other("functions", len(s.Functions) > 0), other("logGroups", len(s.LogGroups) > 0))
	case "":
		return LatencySource{}, fmt.Errorf("kind is missing: want %s, %s or %s", SourceAPIGateway, SourceLambda, SourceALB)
	default:
		return LatencySource{}, fmt.Errorf("kind %q: want %s, %s or %s", s.Kind, SourceAPIGateway, SourceLambda, SourceALB)
	}
	if err := errors.Join(errs...); err != nil {
		return LatencySource{}, err
	}
	return s, nil
}
