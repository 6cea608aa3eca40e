package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
)

// ObjectGetter is the part of *s3.Client the percentiles function calls.
type ObjectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// objectCreated is the detail of an EventBridge "Object Created" event of
// S3, the parts this function reads.
type objectCreated struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		VersionID string `json:"version-id"`
		Sequencer string `json:"sequencer"`
		ETag      string `json:"etag"`
	} `json:"object"`
}

// ObjectResult says what became of an S3 object announced by EventBridge.
type ObjectResult struct {
	Object  string                 `json:"object"`
	Source  string                 `json:"source,omitempty"`
	Skipped string                 `json:"skipped,omitempty"`
	Stats   *accesslog.IngestStats `json:"stats,omitempty"`
}

// ObjectLease is how long a claim on an object keeps other invocations off
// it: Lambda's longest run, so a live reader is never taken over.
const ObjectLease = 15 * time.Minute

func unixMinuteEnd(minute int64) time.Time { return time.Unix(minute+60, 0) }

// object reads an ALB access-log object that an alb source's bucket
// announced, once: it is claimed in the dedupe table by bucket, key and
// version (or sequencer), so a second delivery of the event counts nothing.
// A failed read releases the claim and fails the invocation, so Lambda (and
// then the rule's dead-letter queue) keeps the event; the store takes each
// of the object's merges once, so a retry counts what the failure left out.
func (h *Handler) object(ctx context.Context, detail json.RawMessage) (Outcome, error) {
	var d objectCreated
	if err := json.Unmarshal(detail, &d); err != nil || d.Bucket.Name == "" || d.Object.Key == "" {
		return Outcome{}, fmt.Errorf("%w: an Object Created event without detail.bucket.name and detail.object.key", ErrUnknownEvent)
	}
	version := d.Object.VersionID
	if version == "" {
		// Unversioned buckets: the sequencer orders writes of one key, so
		// it names this write of it.
		version = d.Object.Sequencer
	}
	id := "s3/" + d.Bucket.Name + "/" + d.Object.Key + "@" + version
	res := &ObjectResult{Object: id}
	out := Outcome{Object: res}
	src := h.albSource(d.Bucket.Name, d.Object.Key)
	if src == nil {
		res.Skipped = "no alb source reads this bucket and prefix"
		h.Logger.Warn("dropping an object no alb latency source reads", "bucket", d.Bucket.Name, "key", d.Object.Key)
		return out, nil
	}
	res.Source = src.Name
	if h.Objects == nil {
		return out, errors.New("an alb source's object, and no S3 client to read it")
	}
	claim, err := h.claims().Claim(ctx, id)
	if err != nil {
		return out, fmt.Errorf("claim %s: %w", id, err)
	}
	switch claim.State {
	case dedupe.Done:
		res.Skipped = "already read"
		return out, nil
	case dedupe.InProgress:
		// Another invocation is reading it; should it die, its lease runs
		// out and this event's retry takes over.
		return out, fmt.Errorf("%s is being read by another invocation", id)
	}
	stats, err := h.readObject(ctx, src.Name, d, id)
	res.Stats = &stats
	// The claim is settled even when the read ran out the invocation's
	// time: a claim left in progress would hold every retry off until its
	// lease ends.
	settle, cancel := dedupe.Settle(ctx)
	defer cancel()
	if gone(err) {
		// Deleted (a lifecycle rule, a person) before it was read: no
		// retry can bring it back, so six hours of them would only end
		// in the dead-letter queue's alarm.
		res.Stats, res.Skipped = nil, "the object is gone"
		h.Logger.Warn("an ALB log object was deleted before it was read; its requests are not counted", "object", id, "error", err.Error())
		if err := h.claims().Complete(settle, claim); err != nil {
			return out, fmt.Errorf("complete %s: %w", id, err)
		}
		return out, nil
	}
	if err != nil {
		if rerr := h.claims().Release(settle, claim); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release %s: %w", id, rerr))
		}
		h.Logger.Error("reading an ALB log object failed; Lambda will retry it", "object", id, "error", err.Error())
		return out, err
	}
	if err := h.claims().Complete(settle, claim); err != nil {
		return out, fmt.Errorf("complete %s: %w", id, err)
	}
	h.Logger.Info("ingested an ALB log object", "object", id, "source", src.Name, "lines", stats.Events,
		"added", stats.Added, "malformed", stats.Malformed, "other", stats.Other, "routeMinutes", stats.Parts)
	if stats.Parts > 0 {
		// Only this source's rules can have changed.
		out.Alerts, err = h.checkAlerts(ctx, unixMinuteEnd(stats.LastMinute), src.Name)
	}
	return out, err
}

func (h *Handler) readObject(ctx context.Context, source string, d objectCreated, id string) (accesslog.IngestStats, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(d.Bucket.Name), Key: aws.String(d.Object.Key)}
	if d.Object.VersionID != "" {
		in.VersionId = aws.String(d.Object.VersionID)
	}
	obj, err := h.Objects.GetObject(ctx, in)
	if err != nil {
		return accesslog.IngestStats{}, fmt.Errorf("get %s: %w", id, err)
	}
	defer obj.Body.Close()
	return h.Ingester.IngestALB(ctx, source, obj.Body, id)
}

// gone says S3 has no such object or version: NoSuchKey, or NoSuchVersion
// for a version-id the bucket no longer holds. Any other failure (access
// denied, throttling) may pass, and is retried.
func gone(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NoSuchVersion")
}

// albSource is the alb source whose bucket and prefix hold key.
func (h *Handler) albSource(bucket, key string) *contract.LatencySource {
	for i := range h.Sources {
		s := &h.Sources[i]
		if s.Kind == contract.SourceALB && s.Bucket == bucket && strings.HasPrefix(key, s.Prefix) {
			return s
		}
	}
	return nil
}

func (h *Handler) claims() dedupe.Store {
	if h.Claims == nil {
		h.Claims = &dedupe.Memory{Lease: ObjectLease}
	}
	return h.Claims
}
