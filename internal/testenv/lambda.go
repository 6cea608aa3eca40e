package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// invokePath is the emulator's single route, shaped like the Lambda Invoke API
// with the function name fixed to "function".
const invokePath = "/2015-03-31/functions/function/invocations"

// ErrFunctionTimeout is returned (wrapped) by Invoke when the function ran
// longer than AWS_LAMBDA_FUNCTION_TIMEOUT. The emulator then kills the
// function; the next Invoke starts a fresh one, with a new init.
var ErrFunctionTimeout = errors.New("function timed out")

// timeoutBody is how the emulator answers a timed-out invocation: a 200 with
// this plain-text prefix (InvokeHandler in internal/lambda/rie/handlers.go),
// where Lambda would report a function error.
var timeoutBody = []byte("Task timed out after ")

// reportTimeout bounds the wait for an invocation's REPORT line once the
// emulator has answered; it is printed before the answer, so only the output
// pipe's lag is being waited for.
const reportTimeout = 5 * time.Second

// Lambda is a function bootstrap running under the Lambda Runtime Interface
// Emulator, reachable over HTTP the way the Lambda Invoke API is.
//
// Like one real execution environment, the emulator runs one invocation at a
// time; unlike Lambda, it does not answer an overlapping one with an error
// but rejects its reservation and then crashes on a nil pointer, taking the
// function with it. Invoke therefore queues concurrent calls on the same
// Lambda. Tests of real concurrency need one Lambda per concurrent caller.
type Lambda struct {
	// URL is the emulator's base URL, http://127.0.0.1:<port>.
	URL string

	proc *process
	sem  chan struct{} // holds one token while an invocation is in flight
}

// StartLambda runs the bootstrap executable under the emulator and stops both
// when the test ends.
//
// The bootstrap starts lazily, on the first Invoke, as on a cold start in
// Lambda (see InitDuration). Its working directory and LAMBDA_TASK_ROOT are
// the bootstrap's directory, as /var/task is in Lambda. Its environment is
// env on top of a minimal one: PATH, a fresh empty HOME (so no ~/.aws leaks
// in), AWS_REGION and a 30s function timeout. Nothing else of the test
// process's environment reaches it. The emulator adds the Lambda variables
// (AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME=test_function, ...); set
// AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_TIMEOUT (seconds) or
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE in env to change them.
func StartLambda(t testing.TB, bootstrap string, env []string) *Lambda {
	t.Helper()
	rie := RIEPath(t)

	bootstrap, err := filepath.Abs(bootstrap)
	if err != nil {
		t.Fatalf("start lambda: %v", err)
	}
	// The emulator only execs the bootstrap on the first invoke; checking now
	// puts the failure next to its cause.
	if fi, err := os.Stat(bootstrap); err != nil {
		t.Fatalf("start lambda: %v", err)
	} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("start lambda: %s is not an executable file", bootstrap)
	}
	for _, kv := range env {
		// This variable switches the emulator into its Lambda Managed
		// Instances mode, which has a different CLI and contract.
		if strings.HasPrefix(kv, "AWS_LAMBDA_MAX_CONCURRENCY=") {
			t.Fatalf("start lambda: AWS_LAMBDA_MAX_CONCURRENCY is not supported by this harness")
		}
	}
	taskRoot := filepath.Dir(bootstrap)
	home := t.TempDir()

	var url string
	proc, err := startOnFreePort(func(port int) (*process, error) {
		// The Runtime API (which the bootstrap polls) defaults to the fixed
		// port 9001, so two emulators would collide without a port of its own.
		apiPort, err := freePort()
		if err != nil {
			return nil, err
		}
		url = "http://127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(rie,
			"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(port),
			"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
			// Explicit, because the emulator otherwise takes its level from
			// LOG_LEVEL, which is the function's setting here.
			"--log-level", "info",
			bootstrap)
		cmd.Dir = taskRoot
		cmd.Env = lambdaEnv(taskRoot, home, env)
		p, err := startProcess("aws-lambda-rie", cmd, &logBuffer{})
		if err != nil {
			return nil, err
		}
		// Any other path than the invoke route gets the HTTP mux's 404: proof
		// the server is listening without triggering the function's init.
		if err := p.waitHTTP(url+"/", func(int) bool { return true }); err != nil {
			p.stop()
			return nil, err
		}
		return p, nil
	})
	if err != nil {
		t.Fatalf("start lambda %s: %v", bootstrap, err)
	}

	l := &Lambda{URL: url, proc: proc, sem: make(chan struct{}, 1)}
	t.Cleanup(func() {
		l.Stop()
		if t.Failed() {
			t.Logf("lambda %s output:\n%s", bootstrap, l.Logs())
		}
	})
	return l
}

func lambdaEnv(taskRoot, home string, extra []string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		// The emulator's default is 300s; a hung function should fail a test
		// long before that.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	}
	// exec.Cmd keeps the last value of a repeated key, so extra wins.
	return append(env, extra...)
}

// Invoke sends payload to the function and returns its response. A non-2xx
// answer from the emulator (an init failure, a crash) is an error carrying the
// body; a timeout is ErrFunctionTimeout. A handler that returns an error
// yields a 200 whose body is Lambda's {"errorMessage": ..., "errorType": ...},
// as the Invoke API does.
//
// Concurrent calls are queued, not run in parallel; see Lambda.
func (l *Lambda) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case l.sem <- struct{}{}:
		defer func() { <-l.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke: waiting for the previous invocation: %w", ctx.Err())
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL+invokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	// Our own request ID lets us find this invocation's REPORT line below.
	requestID := newRequestID()
	req.Header.Set("X-Amzn-RequestId", requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w%s", err, l.exitNote())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("invoke: emulator answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	// The emulator prints the REPORT line before it answers, and the function
	// logs before it responds, but both reach Logs through a pipe that may
	// lag. Waiting here means Logs and InitDuration are complete for every
	// invocation that has returned.
	waitCtx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	if err := l.proc.out.waitFor(waitCtx, "REPORT RequestId: "+requestID); err != nil {
		return nil, fmt.Errorf("invoke %s: %w", requestID, err)
	}
	if bytes.HasPrefix(body, timeoutBody) {
		return nil, fmt.Errorf("invoke %s: %w: %s", requestID, ErrFunctionTimeout, body)
	}
	return body, nil
}

// InvokeJSON marshals in, invokes the function, and unmarshals the response
// into out (unless out is nil).
func (l *Lambda) InvokeJSON(ctx context.Context, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("invoke: marshal payload: %w", err)
	}
	body, err := l.Invoke(ctx, payload)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("invoke: unmarshal response %q: %w", body, err)
	}
	return nil
}

// Logs returns everything the emulator and the function wrote so far: the
// function's own log lines and the emulator's START/END/REPORT lines.
func (l *Lambda) Logs() string { return l.proc.out.String() }

// initReportRE matches the line the emulator's core logs when the runtime
// finishes its init phase ("INIT REPORT(durationMs: %f)", internal/lambda/
// interop/events_api.go). It is logged at info level, which is why StartLambda
// pins --log-level.
var initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9]+(?:\.[0-9]+)?)\)`)

// InitDuration returns how long the function's init phase took on the first
// cold start (from starting the bootstrap until it asked for its first
// event), and false before the first invocation.
//
// It deliberately does not use the "Init Duration" field of the first REPORT
// line: in this emulator (printEndReports in internal/lambda/rie/handlers.go)
// that field times only the asynchronous hand-off of the init request, so it
// reads a few hundredths of a millisecond whatever the function does.
func (l *Lambda) InitDuration() (time.Duration, bool) {
	return parseInitDuration(l.Logs())
}

func parseInitDuration(logs string) (time.Duration, bool) {
	m := initReportRE.FindStringSubmatch(logs)
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// exitNote explains a failed request when the emulator has died: it crashes
// rather than answering in some cases (for example overlapping invocations).
func (l *Lambda) exitNote() string {
	select {
	case <-l.proc.done:
		return fmt.Sprintf(" (aws-lambda-rie has exited: %v; output:\n%s)", l.proc.waitErr, l.Logs())
	default:
		return ""
	}
}

// newRequestID returns a random UUID (version 4), the shape Lambda request
// IDs have.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Stop stops the emulator, which stops the function. It is safe to call more
// than once; StartLambda already arranges a call at the end of the test.
func (l *Lambda) Stop() { l.proc.stop() }
