package main

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

	"github.com/lambda-slackbot/slackbot/contract"
)

// devServerPkg is built by import path, so the build works from any directory
// of the module (`go run` from the root, `go test` from cmd/load).
const devServerPkg = "github.com/lambda-slackbot/slackbot/functions/devserver"

// devServer is the dev server running as a subprocess: the same binary
// `make dev` runs, so the load goes through its API Gateway stand-in.
type devServer struct {
	cmd  *exec.Cmd
	url  string
	log  *serverLog
	done chan error // receives cmd.Wait's result once

	stopOnce sync.Once
	stopErr  error
}

// buildDevServer compiles the dev server into dir.
func buildDevServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "devserver")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, devServerPkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build dev server: %w\n%s", err, out)
	}
	return bin, nil
}

// startDevServer runs bin on a free loopback port with the bot's settings in
// its environment, and returns once it answers HTTP.
func startDevServer(ctx context.Context, bin, secret, slackAPIURL string) (*devServer, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-addr", addr)
	cmd.Env = append(cleanEnv(os.Environ()),
		contract.EnvSigningSecret+"="+secret,
		contract.EnvBotToken+"="+botToken,
		contract.EnvSlackAPIURL+"="+slackAPIURL,
		contract.EnvLogLevel+"=warn",
	)
	log := &serverLog{}
	cmd.Stdout = nil // the access log, one line a request: not needed here
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dev server: %w", err)
	}
	d := &devServer{cmd: cmd, url: "http://" + addr, log: log, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	if err := d.waitReady(ctx, 15*time.Second); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// waitReady polls until the server answers anything at all: the gateway
// answers an unknown path with 403, which is enough to know it listens.
func (d *devServer) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.url+"/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-d.done:
			d.done <- err // stop reads it again
			return fmt.Errorf("dev server exited before answering: %v\n%s", err, d.log.tail())
		case <-ctx.Done():
			return fmt.Errorf("wait for dev server: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dev server did not answer on %s within %s\n%s", d.url, limit, d.log.tail())
		}
	}
}

// stop asks the server to shut down (it drains in-flight requests on
// SIGTERM) and kills it if it has not exited in time. Calls after the first
// return the first one's answer.
func (d *devServer) stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.terminate() })
	return d.stopErr
}

func (d *devServer) terminate() error {
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.cmd.Process.Kill()
	}
	select {
	case err := <-d.done:
		return err
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		return errors.New("dev server did not stop within 10s of SIGTERM; killed")
	}
}

// freeAddr finds a free loopback port. The port is released before the
// server binds it; on loopback nothing else is likely to take it meanwhile.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cleanEnv drops the bot's settings from env, so a developer's shell (a
// secret ARN, a DynamoDB table) cannot point the run at real resources.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "SLACK_") || strings.HasPrefix(kv, "SLACKBOT_") || strings.HasPrefix(kv, "LOG_LEVEL=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// serverLog keeps what the dev server logs at error level (the first few
// lines, and a count) and the last few KiB of everything, for reports.
type serverLog struct {
	mu      sync.Mutex
	partial []byte
	last    []byte
	errors  int
	samples []string
}

const (
	logTail    = 4 << 10
	logSamples = 5
)

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = append(l.last, p...)
	if len(l.last) > 2*logTail {
		l.last = append([]byte(nil), l.last[len(l.last)-logTail:]...)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		// The bot logs JSON (slog); refused requests are warnings, failures
		// errors.
		if strings.Contains(line, `"level":"ERROR"`) {
			l.errors++
			if len(l.samples) < logSamples {
				l.samples = append(l.samples, line)
			}
		}
	}
	return len(p), nil
}

func (l *serverLog) errorLines() (int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errors, append([]string(nil), l.samples...)
}

func (l *serverLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.last) > logTail {
		return string(l.last[len(l.last)-logTail:])
	}
	return string(l.last)
}
