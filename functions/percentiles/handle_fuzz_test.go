package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambda-slackbot/slackbot/contract"
)

// askedObjects records the objects the function asked S3 for, and has none.
type askedObjects struct {
	mu   sync.Mutex
	keys []string
}

func (a *askedObjects) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = append(a.keys, *in.Bucket+"/"+*in.Key)
	return nil, errors.New("NoSuchKey")
}

// FuzzHandle feeds any bytes as the function's event (EventBridge schedule
// and S3 Object Created events, SNS notifications, log subscriptions): no
// panic, an error rather than a guess for what it cannot read, S3 asked
// only for objects under an alb source's bucket and prefix, and nothing
// posted from an SNS record that is not the stack's alarm.
func FuzzHandle(f *testing.F) {
	f.Add([]byte(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"lb-logs"},"object":{"key":"alb/AWSLogs/x.log.gz","sequencer":"1"}}}`))
	f.Add([]byte(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"lb-logs"},"object":{"key":"other/x.log.gz"}}}`))
	f.Add([]byte(`{"detail-type":"Object Created","source":"aws.s3","detail":"x"}`))
	f.Add([]byte(scheduledEvent(reportEnd)))
	f.Add([]byte(`{"Records":[{"EventSource":"aws:sns","Sns":{"TopicArn":"` + alarmTopic + `","Message":"plain text"}}]}`))
	f.Add([]byte(`{"awslogs":{"data":"H4sI"}}`))
	f.Add([]byte(`[]`))
	sources, err := contract.ParseLatencySources(`[{"name":"web","kind":"alb","bucket":"lb-logs","prefix":"alb/"}]`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, _, poster, _ := newTestHandler("C0123ABCD")
		h.Sources = sources
		objects := &askedObjects{}
		h.Objects = objects
		out, err := h.Handle(context.Background(), raw)
		if err == nil && !json.Valid(raw) {
			t.Fatalf("not JSON, and no error: %+v", out)
		}
		for _, k := range objects.keys {
			if !strings.HasPrefix(k, "lb-logs/alb/") {
				t.Errorf("asked S3 for %q, outside the source's bucket and prefix", k)
			}
		}
		if out.Alarms != nil && out.Alarms.Posted > 0 && !strings.Contains(string(raw), alarmTopic) {
			t.Errorf("posted %d alarms from an event without the stack's topic: %v", out.Alarms.Posted, poster.sent)
		}
	})
}
