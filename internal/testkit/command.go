package testkit

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildCommand builds the main package in the test's working directory (a
// pipelines/<job> or cmd/ directory) into a temporary directory and returns
// the binary's path, so the test runs the command exactly as a user does.
func BuildCommand(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// OfflineEnv is the test process's environment made unable to reach Google
// Cloud: no application default credentials (HOME and the credential
// variables point nowhere) and Cloud Storage pointed at a closed loopback
// port. A command that runs with it and succeeds contacted no cloud
// service.
func OfflineEnv(t testing.TB) []string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "HOME", "STORAGE_EMULATOR_HOST",
			"PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCE_METADATA_HOST":
			continue
		}
		env = append(env, kv)
	}
	home := t.TempDir()
	return append(env, "HOME="+home, "CLOUDSDK_CONFIG="+filepath.Join(home, "gcloud"),
		"STORAGE_EMULATOR_HOST="+closed, "GCE_METADATA_HOST="+closed)
}
