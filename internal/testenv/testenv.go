// Package testenv starts the real local stand-ins for the cloud parts of this
// repository (moto for AWS APIs, the Lambda Runtime Interface Emulator for the
// Lambda runtime) on free loopback ports, and stops them again.
//
// A missing tool fails the test loudly with the command that installs it:
// a silently skipped test would pass on a machine that proves nothing.
//
// A typical end-to-end test:
//
//	moto := testenv.NewMoto(t)
//	cfg, err := moto.AWSConfig(ctx) // create the secret, the tables
//	...
//	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/events"),
//		append(moto.Env(), "SLACKBOT_SECRET_ARN="+arn))
//	var resp events.APIGatewayProxyResponse
//	err = fn.InvokeJSON(ctx, req, &resp)
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds how long a component may take to answer after it
	// starts. It is generous because CI machines are small and busy; a healthy
	// start takes well under a second.
	readyTimeout = 30 * time.Second

	// stopTimeout is how long a component gets to exit after SIGTERM before it
	// is killed. The emulator itself waits up to 2s for the function to exit.
	stopTimeout = 5 * time.Second

	// portAttempts is how many fresh ports are tried when a child loses the
	// race for its port (see startOnFreePort).
	portAttempts = 3
)

// errPortTaken marks a start that failed only because another process bound
// the chosen port first, so another port is worth a try.
var errPortTaken = errors.New("port already in use")

// process is a child process whose output is captured and whose exit is
// observed, so readiness polling can stop as soon as the child dies.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *logBuffer

	done    chan struct{} // closed once the child has exited
	waitErr error         // cmd.Wait's result; read only after done is closed

	stopOnce sync.Once
}

func startProcess(name string, cmd *exec.Cmd, out *logBuffer) (*process, error) {
	cmd.Stdout = out
	cmd.Stderr = out
	// The emulator starts the function in its own process group, and that
	// grandchild inherits our output pipe; without a bound, Wait would block
	// until the grandchild exits too.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitHTTP polls url until ready accepts the status code, the child exits, or
// readyTimeout passes.
func (p *process) waitHTTP(url string, ready func(status int) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}

	delay := 10 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%s readiness request: %w", p.name, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if ready(resp.StatusCode) {
				return nil
			}
		}

		select {
		case <-p.done:
			err := fmt.Errorf("%s exited before it was ready (%v); output:\n%s", p.name, p.waitErr, p.out)
			if strings.Contains(strings.ToLower(p.out.String()), "address already in use") {
				return fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s within %v; output:\n%s", p.name, url, readyTimeout, p.out)
		case <-time.After(delay):
			delay = min(2*delay, 200*time.Millisecond)
		}
	}
}

// stop asks the child to exit and kills it if it does not. It is safe to call
// more than once and after the child has exited on its own.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		// SIGTERM lets the emulator shut its function down; moto exits on it too.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// startOnFreePort starts a child on a free port, trying again with a new port
// when the child lost the port to another process in the window between our
// probe closing it and the child binding it. Children cannot inherit a bound
// socket from us, so that window cannot be closed.
func startOnFreePort(start func(port int) (*process, error)) (*process, error) {
	var err error
	for range portAttempts {
		var port int
		port, err = freePort()
		if err != nil {
			return nil, err
		}
		var p *process
		p, err = start(port)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("after %d ports: %w", portAttempts, err)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logBuffer collects a child's stdout and stderr. Writes come from the
// goroutine os/exec starts, reads from the test, hence the lock.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int           // when > 0, only the last limit bytes are kept
	changed chan struct{} // closed (and replaced) by every write
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.limit > 0 && b.buf.Len() > b.limit {
		b.buf.Next(b.buf.Len() - b.limit)
	}
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor blocks until the output contains s. Output reaches the buffer
// through a pipe and a copying goroutine, so it can lag behind an HTTP
// response the child sent after writing it.
func (b *logBuffer) waitFor(ctx context.Context, s string) error {
	for {
		b.mu.Lock()
		found := strings.Contains(b.buf.String(), s)
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q in output: %w", s, ctx.Err())
		}
	}
}

const goInstall = "install Go from https://go.dev/dl/ (the version in go.mod) and put it on PATH"

var (
	moduleRootOnce sync.Once
	moduleRootDir  string
	moduleRootErr  error
)

// moduleRoot returns the directory holding this repository's go.mod. Tests
// run in their package's directory, so the go command finds it from there.
func moduleRoot() (string, error) {
	moduleRootOnce.Do(func() {
		out, err := goCommand("", "env", "GOMOD")
		if err != nil {
			moduleRootErr = err
			return
		}
		gomod := strings.TrimSpace(out)
		if gomod == "" || gomod == os.DevNull {
			moduleRootErr = errors.New("find module root: not inside a Go module")
			return
		}
		moduleRootDir = filepath.Dir(gomod)
	})
	return moduleRootDir, moduleRootErr
}

// goCommand runs the go command in dir and returns its stdout; its stderr
// goes into the error, where build failures explain themselves.
func goCommand(dir string, args ...string) (string, error) {
	return goCommandEnv(dir, nil, args...)
}

func goCommandEnv(dir string, env []string, args ...string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go not found: %s", goInstall)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
