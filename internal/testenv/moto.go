package testenv

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

const (
	// Region is the AWS region tests use. The emulator hard-codes us-east-1
	// in the function ARNs it hands out, so using it everywhere keeps ARNs
	// consistent.
	Region = "us-east-1"

	// AccessKeyID and SecretAccessKey are moto's conventional fake
	// credentials; moto accepts any, but the SDK refuses to sign without some.
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"

	motoInstall = "pip install 'moto[server]'"

	// motoLogLimit bounds the captured output: moto logs every request, and a
	// server shared by a whole package's tests would otherwise grow without
	// end. The tail is what explains a failure.
	motoLogLimit = 64 << 10
)

// motoSerial is the launcher that serves moto's own application one request
// at a time, so a conditional write is atomic as it is in DynamoDB (the
// script says why moto_server's threads are not).
//
//go:embed motoserial.py
var motoSerial string

// Moto is a running moto server: the real AWS API surface (Secrets Manager,
// DynamoDB, ...) served in memory on a loopback port, one request at a time.
type Moto struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string

	proc *process
}

// NewMoto starts a moto server for one test and stops it when the test ends.
func NewMoto(t testing.TB) *Moto {
	t.Helper()
	SkipShort(t, "moto")
	m, err := StartMoto()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("moto_server output (tail):\n%s", m.proc.out)
		}
	})
	return m
}

// StartMoto starts a moto server and waits until it answers. The caller must
// call Stop; it suits TestMain, where one server serves a whole package (call
// Reset between tests that need a clean slate).
func StartMoto() (*Moto, error) {
	python, err := motoPython()
	if err != nil {
		return nil, err
	}
	var url string
	proc, err := startOnFreePort(func(port int) (*process, error) {
		url = "http://127.0.0.1:" + strconv.Itoa(port)
		out := &logBuffer{limit: motoLogLimit}
		cmd := exec.Command(python, "-c", motoSerial, "127.0.0.1", strconv.Itoa(port))
		cmd.Env = append(motoEnv(os.Environ()), "MOTO_PORT="+strconv.Itoa(port))
		p, err := startProcess("moto", cmd, out)
		if err != nil {
			return nil, err
		}
		// /moto-api/ is moto's own dashboard route: a 200 there means the
		// whole server is up, not just the socket.
		if err := p.waitHTTP(url+"/moto-api/", func(status int) bool { return status == http.StatusOK }); err != nil {
			p.stop()
			return nil, err
		}
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("start moto (install it with: %s): %w", motoInstall, err)
	}
	return &Moto{URL: url, proc: proc}, nil
}

// motoPython returns the Python that runs moto_server, so the launcher
// imports the very moto the install command put there. It is the
// interpreter on moto_server's "#!" line, or python3 when moto_server is a
// wrapper (a pyenv shim) whose interpreter is the one on PATH.
func motoPython() (string, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", fmt.Errorf("moto_server not found: install it with: %s", motoInstall)
	}
	if python := shebangPython(bin); python != "" {
		return python, nil
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("python3 not found beside moto_server: install moto with: %s", motoInstall)
	}
	return python, nil
}

// shebangPython returns the interpreter a script's "#!" line names when it
// is a Python, else "".
func shebangPython(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	line, _, _ := strings.Cut(string(head[:n]), "\n")
	interp, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(interp)
	if len(fields) == 0 || !strings.Contains(fields[0], "python") {
		return ""
	}
	return fields[0]
}

// motoEnv is the parent's environment without its AWS settings, plus fake
// credentials. Moto runs botocore internally, so a developer's AWS_PROFILE
// naming a profile moto cannot see makes every request fail with a 500, and
// real credentials have no business in a mock.
func motoEnv(parent []string) []string {
	env := make([]string, 0, len(parent)+3)
	for _, kv := range parent {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+SecretAccessKey,
		"AWS_DEFAULT_REGION="+Region,
	)
}

// Stop stops the server. It is safe to call more than once.
func (m *Moto) Stop() { m.proc.stop() }

// Reset drops every resource in the server, so tests sharing one server can
// each start from nothing.
func (m *Moto) Reset() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Env returns the environment a child process (a Lambda under the emulator,
// the dev server) needs to reach this server through its own AWS SDK.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.URL,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		// Without this, an SDK that finds no credentials probes the EC2
		// metadata service and stalls for seconds before failing.
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// AWSConfig returns an SDK configuration that talks to this server, for tests
// that create fixtures (secrets, tables) or inspect what a function wrote.
//
// It is built by hand rather than with config.LoadDefaultConfig on purpose:
// that would also read the test process's environment and ~/.aws, where an
// AWS_PROFILE fails the load and an AWS_ENDPOINT_URL_<SERVICE> outranks
// BaseEndpoint, sending fixtures away from moto. The service clients fill in
// the remaining defaults (HTTP client, retries) themselves.
func (m *Moto) AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg := aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(m.URL),
	}
	// Retrieving once proves the configuration is usable and matches the
	// signature's promise to report errors.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("aws config for moto: %w", err)
	}
	return cfg, nil
}

// SharedMoto is one moto server for a whole test binary, started by the
// first test that asks for it, so a package whose tests all skip under
// -short never needs moto at all. The zero value is ready to use.
type SharedMoto struct {
	once sync.Once
	moto *Moto
	err  error
}

// Get returns the server, starting it on first use. Under -short it skips
// the test; a server that cannot start fails it loudly, never a skip.
func (s *SharedMoto) Get(t testing.TB) *Moto {
	t.Helper()
	SkipShort(t, "moto")
	s.once.Do(func() { s.moto, s.err = StartMoto() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.moto
}

// Stop stops the server if it was started.
func (s *SharedMoto) Stop() {
	if s.moto != nil {
		s.moto.Stop()
	}
}

// MotoMain is the TestMain of a package whose tests share one moto server:
// it runs the tests, stops the server if one started, and exits.
func MotoMain(m *testing.M, moto *SharedMoto) {
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

// SkipShort skips a test that needs a real part (moto, the Lambda
// emulator) under go test -short, saying so: the short loop proves the Go
// code with only Go installed, and make test runs the rest.
func SkipShort(t testing.TB, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: this test needs %s; make test runs it", needs)
	}
}
