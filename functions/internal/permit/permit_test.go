package permit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
)

// workspace is a Directory over fixed channels and members.
type workspace struct {
	ids     map[string]string          // name -> ID
	members map[string]map[string]bool // ID -> users
	down    bool                       // Slack is unreachable
}

func (w workspace) ResolveChannel(_ context.Context, ch string) (string, error) {
	if w.down {
		return "", errors.New("dial tcp: connection refused")
	}
	ch = strings.TrimPrefix(ch, "#")
	if _, ok := w.members[ch]; ok {
		return ch, nil
	}
	if id, ok := w.ids[ch]; ok {
		return id, nil
	}
	return "", &chat.Error{Code: "channel_not_found", Hint: "I can't find a channel named #" + ch}
}

func (w workspace) IsMember(_ context.Context, id, user string) (bool, error) {
	m, ok := w.members[id]
	if !ok {
		return false, &chat.Error{Code: "channel_not_found", Hint: "no such channel"}
	}
	return m[user], nil
}

var acme = workspace{
	ids: map[string]string{"general": "C0GENERAL1", "ops": "C0OPS00001", "secret": "G0SECRET01", "dm": "D0DIRECT01"},
	members: map[string]map[string]bool{
		"C0GENERAL1": {"UADA": true, "UBOB": true},
		"C0OPS00001": {"UADA": true},
		"G0SECRET01": {"UBOB": true},
		"D0DIRECT01": {"UADA": true},
	},
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		policy   permit.Policy
		user     string
		channel  string
		want     string // the channel ID, or "" for a refusal
		wantFail bool   // an error that is not a refusal
	}{
		{"member of a public channel", permit.Policy{}, "UADA", "#general", "C0GENERAL1", false},
		{"by ID", permit.Policy{}, "UADA", "C0OPS00001", "C0OPS00001", false},
		{"not a member", permit.Policy{}, "UBOB", "#ops", "", false},
		{"private channel, not a member", permit.Policy{}, "UADA", "G0SECRET01", "", false},
		{"private channel, member", permit.Policy{}, "UBOB", "#secret", "G0SECRET01", false},
		{"no such channel", permit.Policy{}, "UADA", "#nope", "", false},
		{"a direct message is not a channel", permit.Policy{}, "UADA", "D0DIRECT01", "", false},
		{"user allow-list: on it", permit.Policy{Users: []string{"UADA"}}, "UADA", "#general", "C0GENERAL1", false},
		{"user allow-list: not on it", permit.Policy{Users: []string{"UADA"}}, "UBOB", "#general", "", false},
		{"channel allow-list by name", permit.Policy{Channels: []string{"#ops"}}, "UADA", "C0OPS00001", "C0OPS00001", false},
		{"channel allow-list by ID", permit.Policy{Channels: []string{"C0OPS00001"}}, "UADA", "#ops", "C0OPS00001", false},
		{"channel not on the allow-list", permit.Policy{Channels: []string{"ops"}}, "UADA", "#general", "", false},
		{"a stale allow-list entry allows nothing", permit.Policy{Channels: []string{"gone", "ops"}}, "UADA", "#ops", "C0OPS00001", false},
		{"both lists and membership", permit.Policy{Users: []string{"UADA", "UBOB"}, Channels: []string{"general", "ops"}}, "UBOB", "#ops", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			p.Dir = acme
			got, err := p.Check(context.Background(), tt.user, tt.channel)
			switch {
			case tt.want != "":
				if err != nil || got != tt.want {
					t.Fatalf("Check = %q, %v; want %q", got, err, tt.want)
				}
			case !errors.Is(err, permit.ErrRefused):
				t.Fatalf("Check = %q, %v; want a refusal", got, err)
			case got != "":
				t.Fatalf("a refusal returned a channel %q", got)
			}
		})
	}
}

// TestRefusalsLookAlike: whether the channel exists, is private, or the user
// is simply not in it, it is a refusal (whose words the user sees, the same
// for all), and those words do not speak of existence.
func TestRefusalsLookAlike(t *testing.T) {
	p := &permit.Policy{Dir: acme}
	for _, ch := range []string{"#nope", "G0SECRET01", "#ops", "G0NOTHERE1", "#general"} {
		if _, err := p.Check(context.Background(), "UEVE", ch); !errors.Is(err, permit.ErrRefused) {
			t.Fatalf("%s: %v, want a refusal", ch, err)
		}
	}
	if strings.Contains(permit.ErrRefused.Error(), "find") || strings.Contains(permit.ErrRefused.Error(), "exist") {
		t.Errorf("the refusal hints at existence: %q", permit.ErrRefused)
	}
}

func TestFailureIsNotAYes(t *testing.T) {
	p := &permit.Policy{Dir: workspace{down: true}}
	got, err := p.Check(context.Background(), "UADA", "#general")
	if err == nil || got != "" || errors.Is(err, permit.ErrRefused) {
		t.Fatalf("Check with Slack down = %q, %v; want a failure that is not a refusal", got, err)
	}
	var nilPolicy *permit.Policy
	if _, err := nilPolicy.Check(context.Background(), "UADA", "#general"); !errors.Is(err, permit.ErrRefused) {
		t.Fatalf("a nil policy allowed a post: %v", err)
	}
}

func TestSplit(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		" U1 , U2,,U3 ":     "U1|U2|U3",
		"#ops, C0123ABCD ,": "#ops|C0123ABCD",
	} {
		if got := strings.Join(permit.Split(in), "|"); got != want {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}
