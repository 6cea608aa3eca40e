package testenv

import (
	"bytes"
	"context"
	"encoding/json"
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

// Lambda is a function bootstrap running under the Lambda Runtime Interface
// Emulator, reachable over HTTP the way the Lambda Invoke API is.
//
// The emulator runs one invocation at a time and rejects a second one with
// 400 while the first is in flight, as one real Lambda execution environment
// would. Invoke therefore queues concurrent calls instead of failing them;
// concurrency tests need one Lambda per concurrent caller.
type Lambda struct {
	// URL is the emulator's base URL, http://127.0.0.1:<port>.
	URL string

	proc *process
	sem  chan struct{} // holds one token while an invocation is in flight
}

// StartLambda runs the bootstrap executable under the emulator and stops both
// when the test ends.
//
// The bootstrap starts lazily, on the first Invoke, as a cold start does in
// Lambda; that first call's REPORT line carries the Init Duration. Its working
// directory and LAMBDA_TASK_ROOT are the bootstrap's directory, mirroring
// /var/task. Its environment is env on top of a minimal one (PATH, a fresh
// empty HOME so no ~/.aws leaks in, AWS_REGION, a 30s function timeout); the
// emulator adds the Lambda variables (AWS_LAMBDA_RUNTIME_API,
// AWS_LAMBDA_FUNCTION_NAME=test_function, ...). Set AWS_LAMBDA_FUNCTION_NAME,
// AWS_LAMBDA_FUNCTION_TIMEOUT (seconds) or AWS_LAMBDA_FUNCTION_MEMORY_SIZE in
// env to change what the emulator reports.
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
// body. A handler that returns an error yields a 200 whose body is Lambda's
// {"errorMessage": ..., "errorType": ...}, as the Invoke API does.
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("invoke: emulator answered %s: %s", resp.Status, bytes.TrimSpace(body))
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

// initDurationRE matches the field the emulator adds to the first REPORT line
// (printEndReports in internal/lambda/rie/handlers.go): "Init Duration: %.2f ms".
var initDurationRE = regexp.MustCompile(`REPORT RequestId: [^\n]*\bInit Duration: ([0-9]+(?:\.[0-9]+)?) ms`)

// InitDuration returns the cold-start init time the emulator reported, and
// false before the first invocation has finished.
func (l *Lambda) InitDuration() (time.Duration, bool) {
	return parseInitDuration(l.Logs())
}

func parseInitDuration(logs string) (time.Duration, bool) {
	m := initDurationRE.FindStringSubmatch(logs)
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// Stop stops the emulator, which stops the function. It is safe to call more
// than once; StartLambda already arranges a call at the end of the test.
func (l *Lambda) Stop() { l.proc.stop() }
