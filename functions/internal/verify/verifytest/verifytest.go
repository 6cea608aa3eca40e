// Package verifytest signs requests as Slack does, for tests and tools
// that play Slack. The functions themselves only verify.
package verifytest

import (
	"encoding/hex"
	"strconv"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Signature returns the X-Slack-Request-Timestamp and X-Slack-Signature
// header values of body sent at at, signed with secret.
func Signature(secret string, at time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	return timestamp, "v0=" + hex.EncodeToString(verify.Sign(secret, timestamp, body))
}
