package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

func TestPosterFollowsTheCredentials(t *testing.T) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tests := []struct {
		name      string
		secretARN string
		token     string
		want      string
	}{
		{"local, no token: printed", "", "", "*notify.Printer"},
		{"token: Slack", "arn:secret", "xoxb-1", "*notify.Client"},
		{"deployed, no token: refused", "arn:secret", "", "notify.NoToken"},
	}
	for _, tt := range tests {
		cfg := config.Config{SecretARN: tt.secretARN}
		cfg.BotToken = tt.token
		b := New(cfg, aws.Config{}, quiet, io.Discard)
		if got := typeName(b.Post); got != tt.want {
			t.Errorf("%s: poster %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err := notify.NoToken{}.Post(context.Background(), notify.Message{Channel: "C1", Text: "x"})
	var e *notify.Error
	if !errors.As(err, &e) || e.Code != "not_authed" || e.Hint == "" {
		t.Fatalf("NoToken error %v: want not_authed with a hint", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *notify.Printer:
		return "*notify.Printer"
	case *notify.Client:
		return "*notify.Client"
	case notify.NoToken:
		return "notify.NoToken"
	}
	return "other"
}
