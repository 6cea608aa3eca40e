// Command slackapp creates and updates the stack's Slack app from its
// manifest, through Slack's App Manifest API, so that nothing is pasted:
//
//	make slack-app   # creates the app without request URLs, stores its id and signing secret
//	pulumi up        # deploys the functions with that secret
//	make slack-app   # updates the app with the stack's whole manifest, URLs included
//
// It needs an app configuration token in SLACK_CONFIG_TOKEN, and its refresh
// token in SLACK_CONFIG_REFRESH_TOKEN to rotate it when it has expired.
// SLACK_API_URL, when set, replaces Slack's Web API (tests).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
)

func main() {
	manifestFile := flag.String("manifest", "", "read the manifest from this file, as pulumi stack output slackAppManifest writes it, instead of the stack's outputs")
	stack := flag.String("stack", "", "the Pulumi stack (default: the selected one)")
	tokenFile := flag.String("token-file", defaultTokenFile(), "where a rotated configuration token pair is written, mode 0600")
	flag.Parse()

	var opts []slack.Option
	if u := os.Getenv(contract.EnvSlackAPIURL); u != "" {
		opts = append(opts, slack.OptionAPIURL(u))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, deps{
		// The manifest methods take the configuration token on each call,
		// so a rotated one is used from then on; the client holds none.
		Slack:        slack.New("", opts...),
		Pulumi:       cliPulumi{Bin: "pulumi", Stack: *stack},
		ManifestFile: *manifestFile,
		Token:        os.Getenv("SLACK_CONFIG_TOKEN"),
		RefreshToken: os.Getenv("SLACK_CONFIG_REFRESH_TOKEN"),
		TokenFile:    *tokenFile,
		Out:          os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "slackapp:", err)
		stop()
		os.Exit(1)
	}
}
