package latency

import (
	"encoding/json"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Slack's limits on what an element carries back when clicked.
const (
	maxButtonValue = 2000
	maxOptionValue = 150
	maxOptionText  = 75
	maxOptions     = 100
)

// actions is the report's row of controls: a button per window of
// contract.ReportWindows, keeping the route, and a menu of the routes with
// traffic, keeping the window. Each value is a contract.ReportChoice, so a
// click carries the whole report to show and the server keeps nothing.
func (rep *report) actions() slack.Block {
	route := rep.Query
	if len(rep.Matched) == 1 {
		route = rep.Matched[0]
	}
	window := contract.FormatWindow(rep.Window)
	// The bot's own source goes unnamed, as in buttons posted before
	// sources existed.
	source := rep.Source
	if source == contract.DefaultSource {
		source = ""
	}
	choice := func(window, route string, limit int) (string, bool) { return choice(source, window, route, limit) }
	var elems []slack.BlockElement
	for _, w := range contract.ReportWindows {
		v, ok := choice(w, route, maxButtonValue)
		if !ok {
			// A route too long to carry: the button shows all routes.
			v, _ = choice(w, "", maxButtonValue)
		}
		b := slack.NewButtonBlockElement(contract.ReportWindowAction(w), v, slack.NewTextBlockObject(slack.PlainTextType, w, false, false))
		if w == window {
			b.Style = slack.StylePrimary
		}
		elems = append(elems, b)
	}

	all, _ := choice(window, "", maxOptionValue)
	options := []*slack.OptionBlockObject{option("All routes", all)}
	initial := options[0]
	for _, r := range rep.Active {
		v, ok := choice(window, r, maxOptionValue)
		if !ok || len(options) == maxOptions {
			continue // Slack refuses an option value over 150 bytes
		}
		// Plain text is not markup, so the route needs no escaping here.
		o := option(truncateRunes(r, maxOptionText), v)
		options = append(options, o)
		if r == route {
			initial = o
		}
	}
	menu := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic,
		slack.NewTextBlockObject(slack.PlainTextType, "Route", false, false), contract.ActionReportRoute, options...)
	if route == "" || initial != options[0] {
		menu.InitialOption = initial
	}
	elems = append(elems, menu)
	return slack.NewActionBlock("latency_report_controls", elems...)
}

// choice is the JSON of a ReportChoice, and whether it fits in limit bytes.
func choice(source, window, route string, limit int) (string, bool) {
	b, err := json.Marshal(contract.ReportChoice{Window: window, Route: route, Source: source})
	if err != nil || len(b) > limit {
		return "", false
	}
	return string(b), true
}

func option(text, value string) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject(value, slack.NewTextBlockObject(slack.PlainTextType, text, false, false), nil)
}
