package slash_test

import (
	"os"
	"testing"

	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

// TestSlackDocumentedCommand parses the slash command body of Slack's
// documentation (testdata/command.form), as it arrives: unescaped slashes
// and colons, a %20 in a value, enterprise fields the bot does not use.
func TestSlackDocumentedCommand(t *testing.T) {
	body, err := os.ReadFile("testdata/command.form")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := slash.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	for field, got := range map[string][2]string{
		"command":      {cmd.Command, "/weather"},
		"text":         {cmd.Text, "94070"},
		"user_id":      {cmd.UserID, "U2147483697"},
		"team_id":      {cmd.TeamID, "T0001"},
		"channel_id":   {cmd.ChannelID, "C2147483705"},
		"response_url": {cmd.ResponseURL, "https://hooks.slack.com/commands/1234/5678"},
		"trigger_id":   {cmd.TriggerID, "13345224609.738474920.8088930838d88f008e0"},
		"api_app_id":   {cmd.APIAppID, "A123456"},
		"enterprise":   {cmd.EnterpriseName, "Globular Construct Inc"},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", field, got[0], got[1])
		}
	}
}
