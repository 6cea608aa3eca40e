package interactions

import (
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestNotifyModalWithSwallowingSlack: Slack takes the modal's post and
// never answers. The submission ends within Slack's 3 seconds, tells the
// user it was sent, and counts as posted: the user's second submit of the
// same view posts nothing.
func TestNotifyModalWithSwallowingSlack(t *testing.T) {
	slackSrv := testenv.NewSlack(t, "xoxb-test", nil)
	slackSrv.SetMembers("C0NEWS0001", "U0123")
	slackSrv.SetMode(testenv.SwallowFirst, testenv.MethodPostMessage)
	client := notify.NewClient("xoxb-test", slackSrv.APIURL(), notify.Retry{})
	modal := &NotifyModal{Views: client, Notifier: slash.Notifier{Post: client, Permit: &permit.Policy{Dir: client}, Log: quiet},
		Claims: &dedupe.Memory{}, Log: quiet}
	h := &Handler{Verifier: verify.Verifier{SigningSecret: secret}, Log: quiet}
	modal.Register(h)
	for i, want := range []string{"Sent to <#C0NEWS0001>", "Already posted"} {
		status, body := serve(t, h, signed(form(submission("V1", "U0123", "C0NEWS0001", "Deploy done"))))
		if status != 200 || !strings.Contains(body, `"response_action":"update"`) || !strings.Contains(testenv.PlainJSON(t, []byte(body)), want) {
			t.Fatalf("submit %d: %d %s; want the modal updated to say %q", i, status, body, want)
		}
	}
	if n := len(slackSrv.Posts()); n != 1 {
		t.Errorf("Slack got the post %d times, want once", n)
	}
}
