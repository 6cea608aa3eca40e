package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type echoRequest struct {
	Message string   `json:"message"`
	Env     []string `json:"env,omitempty"`
	Fail    string   `json:"fail,omitempty"`
	SleepMS int      `json:"sleep_ms,omitempty"`
}

type echoResponse struct {
	Payload      json.RawMessage   `json:"payload"`
	Env          map[string]string `json:"env"`
	Cwd          string            `json:"cwd"`
	FunctionName string            `json:"function_name"`
	RequestID    string            `json:"request_id"`
	PID          int               `json:"pid"`
}

var (
	echoOnce sync.Once
	echoBin  string
	echoErr  error
)

// echoBootstrap builds testdata/echo once for all tests in this binary.
func echoBootstrap(t *testing.T) string {
	t.Helper()
	echoOnce.Do(func() {
		start := time.Now()
		echoBin, echoErr = BuildFunction("./internal/testenv/testdata/echo", binDir)
		t.Logf("building the echo bootstrap took %v", time.Since(start))
	})
	if echoErr != nil {
		t.Fatal(echoErr)
	}
	return echoBin
}

func TestLambdaInvoke(t *testing.T) {
	t.Parallel()
	bootstrap := echoBootstrap(t)
	l := StartLambda(t, bootstrap, []string{
		"TESTENV_GREETING=hello from the test",
		"AWS_LAMBDA_FUNCTION_NAME=echo",
	})
	if _, ok := l.InitDuration(); ok {
		t.Errorf("InitDuration reported before the first invoke")
	}

	ctx := t.Context()
	start := time.Now()
	var got echoResponse
	in := echoRequest{Message: "héllo", Env: []string{"TESTENV_GREETING", "HOME", "AWS_LAMBDA_RUNTIME_API"}}
	if err := l.InvokeJSON(ctx, in, &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("cold invoke took %v", time.Since(start))

	var echoed echoRequest
	if err := json.Unmarshal(got.Payload, &echoed); err != nil {
		t.Fatalf("echoed payload %s: %v", got.Payload, err)
	}
	if echoed.Message != in.Message {
		t.Errorf("echoed message = %q, want %q", echoed.Message, in.Message)
	}
	if v := got.Env["TESTENV_GREETING"]; v != "hello from the test" {
		t.Errorf("function saw TESTENV_GREETING = %q", v)
	}
	if home := got.Env["HOME"]; home == "" || strings.HasPrefix(bootstrap, home) {
		t.Errorf("function saw HOME = %q, want a fresh directory", home)
	}
	if api := got.Env["AWS_LAMBDA_RUNTIME_API"]; api == "127.0.0.1:9001" || !strings.HasPrefix(api, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want a free loopback port", api)
	}
	if want := filepath.Dir(bootstrap); got.Cwd != want {
		t.Errorf("function cwd = %q, want the bootstrap's directory %q", got.Cwd, want)
	}
	if got.FunctionName != "echo" {
		t.Errorf("function name = %q, want echo", got.FunctionName)
	}
	if got.RequestID == "" {
		t.Errorf("function saw no request ID")
	}

	d, ok := l.InitDuration()
	if !ok || d <= 0 {
		t.Errorf("InitDuration() = %v, %v; want > 0, true; logs:\n%s", d, ok, l.Logs())
	}
	logs := l.Logs()
	for _, want := range []string{`echo: handling "héllo"`, "REPORT RequestId: " + got.RequestID} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	// The second invocation reuses the warm process, as Lambda would.
	var warm echoResponse
	if err := l.InvokeJSON(ctx, echoRequest{Message: "again"}, &warm); err != nil {
		t.Fatal(err)
	}
	if warm.PID != got.PID {
		t.Errorf("warm invoke ran in pid %d, cold one in %d", warm.PID, got.PID)
	}

	l.Stop()
	if err := l.InvokeJSON(ctx, echoRequest{}, nil); err == nil {
		t.Errorf("Invoke after Stop succeeded")
	}
	// Stopping the emulator must not leave the function running.
	if err := syscall.Kill(got.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("function process %d still exists after Stop (kill -0: %v)", got.PID, err)
	}
}

func TestLambdaHandlerError(t *testing.T) {
	t.Parallel()
	l := StartLambda(t, echoBootstrap(t), nil)
	body, err := l.Invoke(t.Context(), []byte(`{"fail":"boom"}`))
	if err != nil {
		t.Fatal(err)
	}
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(body, &fnErr); err != nil || fnErr.ErrorMessage != "boom" {
		t.Errorf("body = %s (%v), want a Lambda error with message boom", body, err)
	}
	// A failed invocation leaves the environment usable.
	if err := l.InvokeJSON(t.Context(), echoRequest{Message: "ok"}, nil); err != nil {
		t.Errorf("invoke after a handler error: %v", err)
	}
}

func TestLambdaTimeout(t *testing.T) {
	t.Parallel()
	l := StartLambda(t, echoBootstrap(t), []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=1"})
	var first echoResponse
	if err := l.InvokeJSON(t.Context(), echoRequest{}, &first); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Invoke(t.Context(), []byte(`{"sleep_ms":3000}`)); !errors.Is(err, ErrFunctionTimeout) {
		t.Errorf("invoke sleeping past the timeout: err = %v, want ErrFunctionTimeout", err)
	}
	// As in Lambda, the timed-out environment is replaced by a fresh one.
	var after echoResponse
	if err := l.InvokeJSON(t.Context(), echoRequest{}, &after); err != nil {
		t.Fatalf("invoke after a timeout: %v", err)
	}
	if after.PID == first.PID {
		t.Errorf("invoke after a timeout ran in the killed process %d", first.PID)
	}
}

// The emulator answers 400 to an invocation that overlaps another; Invoke
// must queue them instead. Two emulators must also coexist, which needs a
// Runtime API port of their own.
func TestLambdaConcurrentInvokesAndEmulators(t *testing.T) {
	t.Parallel()
	bootstrap := echoBootstrap(t)
	lambdas := []*Lambda{StartLambda(t, bootstrap, nil), StartLambda(t, bootstrap, nil)}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range cap(errs) {
		wg.Go(func() {
			var out echoResponse
			if err := lambdas[i%2].InvokeJSON(ctx, echoRequest{Message: "x"}, &out); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLambdaInvokeRespectsContextWhileQueued(t *testing.T) {
	l := &Lambda{URL: "http://127.0.0.1:1", sem: make(chan struct{}, 1)}
	l.sem <- struct{}{} // an invocation in flight
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Invoke(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Invoke while another is in flight, ctx canceled: err = %v, want context.Canceled", err)
	}
}

func TestParseInitDuration(t *testing.T) {
	tests := []struct {
		name string
		logs string
		want time.Duration
		ok   bool
	}{
		{
			name: "cold start",
			logs: "25 Nov 2026 14:03:33,269 [INFO] (rapid) INIT START(type: on-demand, phase: init)\n" +
				"25 Nov 2026 14:03:33,273 [INFO] (rapid) INIT RTDONE(status: success)\n" +
				"25 Nov 2026 14:03:33,273 [INFO] (rapid) INIT REPORT(durationMs: 4.274000)\n" +
				"REPORT RequestId: 1\tInit Duration: 0.04 ms\tDuration: 5.92 ms\tBilled Duration: 6 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t\n",
			want: 4274 * time.Microsecond,
			ok:   true,
		},
		{
			// The REPORT field times only the emulator's hand-off; see InitDuration.
			name: "REPORT field alone",
			logs: "REPORT RequestId: 1\tInit Duration: 12.34 ms\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t\n",
		},
		{
			name: "warm invocations only",
			logs: "REPORT RequestId: 2\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t\n",
		},
		{name: "nothing yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseInitDuration(tt.logs)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseInitDuration = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
