package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestDeployShipsReproducibleZips runs the real program, which compiles the real
// functions, and checks what each Lambda function would be given: the zip file,
// its hash, one executable bootstrap for arm64. A second build must give the
// same bytes, or every preview would show a code change.
func TestDeployShipsReproducibleZips(t *testing.T) {
	setConfig(t, baseConfig())
	m := &mocks{}
	start := time.Now()
	if err := pulumi.RunErr(deploy, pulumi.WithMocks("slackbot", "dev", m)); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	t.Logf("deploy with three arm64 builds: %v", time.Since(start).Round(time.Millisecond))

	shipped := map[string][]byte{}
	for _, fn := range m.ofType(tFunction) {
		code := fn.Inputs["code"]
		if !code.IsArchive() || code.ArchiveValue().Path == "" {
			t.Fatalf("%s: code %v is not a file archive", fn.Name, code)
		}
		path := code.ArchiveValue().Path
		if filepath.Ext(path) != ".zip" {
			t.Errorf("%s: ships %s, want the zip file itself", fn.Name, path)
		}
		z, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(z)
		if got := fn.str("sourceCodeHash"); got != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("%s: sourceCodeHash %q is not the zip's", fn.Name, got)
		}
		// What Pulumi uploads and diffs: a zip archive passes through as is, and
		// its hash is the file's.
		a, err := archive.FromPath(path)
		if err != nil {
			t.Fatal(err)
		}
		var sent bytes.Buffer
		if err := a.Archive(archive.ZIPArchive, &sent); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sent.Bytes(), z) {
			t.Errorf("%s: Pulumi would upload other bytes than the zip", fn.Name)
		}
		if a.Hash != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: Pulumi's archive hash %s, want the zip's SHA-256", fn.Name, a.Hash)
		}
		bin := bootstrapFromZip(t, z)
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil || f.Machine != elf.EM_AARCH64 {
			t.Errorf("%s: bootstrap is not an arm64 executable (%v)", fn.Name, err)
		}
		// The resource is the component's child, named <function>-function.
		shipped[strings.TrimSuffix(fn.Name, "-function")] = z
		t.Logf("%s: %s, %d bytes zipped, %d bytes unzipped", fn.Name, filepath.Base(path), len(z), len(bin))
	}
	if len(shipped) != 3 {
		t.Fatalf("%d functions shipped", len(shipped))
	}

	start = time.Now()
	again, err := buildFunctions(context.Background(), "arm64", []string{contract.EventsFunction, contract.CommandsFunction, contract.PercentilesFunction})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second build (warm cache): %v", time.Since(start).Round(time.Millisecond))
	for name, art := range again {
		if shipped[name] == nil {
			t.Fatalf("%s: no shipped zip to compare (shipped: %v)", name, slices.Collect(maps.Keys(shipped)))
		}
		if !bytes.Equal(art.Zip, shipped[name]) {
			t.Errorf("%s: a second build gave a different zip", name)
		}
	}
}

// bootstrapFromZip wants exactly one entry, bootstrap, mode 0755, at the fixed
// time, and returns its contents.
func bootstrapFromZip(t *testing.T, z []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("zip entries %v, want only bootstrap", zr.File)
	}
	f := zr.File[0]
	if f.Mode() != 0o755 {
		t.Errorf("bootstrap mode %v in the zip, want 0755", f.Mode())
	}
	if !f.Modified.Equal(lambdabuild.ZipModTime) {
		t.Errorf("bootstrap time %v, want the fixed %v", f.Modified, lambdabuild.ZipModTime)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestZipRunsUnderRIE builds the events function for this machine the way the
// program builds it for Lambda, unpacks the zip as Lambda does (keeping the
// entry's mode), and has the Runtime Interface Emulator run it: a signed
// url_verification must come back with its challenge.
func TestZipRunsUnderRIE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("bootstraps are Linux executables")
	}
	root, err := lambdabuild.FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	arts, err := lambdabuild.BuildAll(context.Background(), lambdabuild.Options{
		ModuleRoot: root, GOARCH: runtime.GOARCH, OutDir: t.TempDir(),
	}, "./functions/"+contract.EventsFunction)
	if err != nil {
		t.Fatal(err)
	}
	art := arts[0]
	zr, err := zip.NewReader(bytes.NewReader(art.Zip), int64(len(art.Zip)))
	if err != nil {
		t.Fatal(err)
	}
	task := t.TempDir()
	bootstrap := filepath.Join(task, zr.File[0].Name)
	if err := os.WriteFile(bootstrap, bootstrapFromZip(t, art.Zip), zr.File[0].Mode().Perm()); err != nil {
		t.Fatal(err)
	}

	const signingSecret = "rie-signing-secret"
	fn := testenv.StartLambda(t, bootstrap, []string{contract.EnvSigningSecret + "=" + signingSecret})
	body := `{"token":"unused","challenge":"c4a11enge","type":"url_verification"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	io.WriteString(mac, "v0:"+ts+":"+body)
	req := events.APIGatewayProxyRequest{
		HTTPMethod: "POST",
		Resource:   contract.EventsPath,
		Path:       contract.EventsPath,
		Headers: map[string]string{
			"Content-Type":              "application/json",
			"X-Slack-Request-Timestamp": ts,
			"X-Slack-Signature":         "v0=" + hex.EncodeToString(mac.Sum(nil)),
		},
		Body: body,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var resp events.APIGatewayProxyResponse
	if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
		t.Fatalf("invoke: %v\n%s", err, fn.Logs())
	}
	var got struct{ Challenge string }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &got) != nil || got.Challenge != "c4a11enge" {
		t.Fatalf("response %d %s, want 200 with the challenge\n%s", resp.StatusCode, resp.Body, fn.Logs())
	}
}
