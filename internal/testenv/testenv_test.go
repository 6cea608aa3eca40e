package testenv

import (
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"
)

// When another process owns the port, each tool must fail in a way
// startOnFreePort recognises as worth another port.
func TestPortTakenIsRecognised(t *testing.T) {
	SkipShort(t, "moto and the Lambda emulator")
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	url := "http://127.0.0.1:" + port + "/"

	python, err := motoPython()
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*exec.Cmd{
		"moto": exec.Command(python, "-c", motoSerial, "127.0.0.1", port),
		"aws-lambda-rie": exec.Command(RIEPath(t),
			"--runtime-interface-emulator-address", "127.0.0.1:"+port,
			"--runtime-api-address", "127.0.0.1:0",
			"/bin/true"),
	}
	for name, cmd := range tools {
		t.Run(name, func(t *testing.T) {
			p, err := startProcess(name, cmd, &logBuffer{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.stop()
			// Our listener never answers, so only the child's exit ends this.
			err = p.waitHTTP(url, func(int) bool { return true })
			if !errors.Is(err, errPortTaken) {
				t.Errorf("err = %v, want errPortTaken", err)
			}
		})
	}
}

func TestStartOnFreePortRetriesOnlyLostPorts(t *testing.T) {
	errBroken := errors.New("broken install")
	tests := []struct {
		name      string
		failures  []error // what successive attempts return before succeeding
		wantErr   error
		wantCalls int
	}{
		{name: "first port works", wantCalls: 1},
		{name: "lost twice", failures: []error{errPortTaken, errPortTaken}, wantCalls: 3},
		{name: "lost every time", failures: []error{errPortTaken, errPortTaken, errPortTaken}, wantErr: errPortTaken, wantCalls: portAttempts},
		{name: "other failure is final", failures: []error{errBroken}, wantErr: errBroken, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			p, err := startOnFreePort(func(int) (*process, error) {
				calls++
				if calls <= len(tt.failures) {
					return nil, tt.failures[calls-1]
				}
				return &process{}, nil
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (p != nil) {
				t.Errorf("startOnFreePort = %v, %v; want error %v", p, err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("start called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}
