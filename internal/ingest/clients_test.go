package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const curlPath = "/usr/bin/curl"

// curl runs curl and returns the status code and the decoded JSON answer.
func curl(t *testing.T, args ...string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curlPath, append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("curl %v: %v: %s", args, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	text := strings.TrimSpace(string(out))
	i := strings.LastIndexByte(text, '\n')
	body, code := text[:max(i, 0)], text[i+1:]
	r := response{Raw: body}
	if r.Status, err = strconv.Atoi(code); err != nil {
		t.Fatalf("curl output %q", out)
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("curl got a non-JSON answer %d: %s", r.Status, body)
	}
	return r
}

// TestCurl drives the gateway with curl: a gzip'd NDJSON file with a bearer
// token, curl's default form encoding, and a wrong token.
func TestCurl(t *testing.T) {
	env := newTestEnv(t, Config{AuthTokens: []string{"curl-token"}})
	dir := t.TempDir()
	file := filepath.Join(dir, "events.ndjson.gz")
	if err := os.WriteFile(file, gzipped(t, []byte(validEvent("c-1")+"\n"+validEvent("c-2")+"\n{\"event_id\":\"c-bad\"}\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	url := env.url + EventsPath
	r := curl(t, "-X", "POST", "--data-binary", "@"+file, "-H", "Content-Type: application/x-ndjson", "-H", "Content-Encoding: gzip",
		"-H", "Authorization: Bearer curl-token", url)
	if r.Status != 202 || *r.Accepted != 2 || len(r.Rejected) != 1 || r.Rejected[0].Index != 2 {
		t.Fatalf("gzip NDJSON: %d %s", r.Status, r.Raw)
	}
	if r := curl(t, "-d", validEvent("form"), "-H", "Authorization: Bearer curl-token", url); r.Status != 415 || r.Reason != ReasonUnsupportedMediaType {
		t.Fatalf("curl -d: %d %s", r.Status, r.Raw)
	}
	if r := curl(t, "-H", "Content-Type: application/json", "-d", validEvent("x"), "-H", "Authorization: Bearer nope", url); r.Status != 403 || r.Reason != ReasonInvalidToken {
		t.Fatalf("wrong token: %d %s", r.Status, r.Raw)
	}
	if r := curl(t, "-H", "Content-Type: application/json", "-d", validEvent("x"), url); r.Status != 401 || r.Reason != ReasonMissingToken {
		t.Fatalf("no token: %d %s", r.Status, r.Raw)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "c-1,c-2" {
		t.Fatalf("events topic has %s", got)
	}
	// Only c-bad is a dead letter: refused requests are not.
	if dls := env.deadLetters(""); len(dls) != 1 || dls[0].Source != r.RequestID+"#2" || string(dls[0].Payload) != `{"event_id":"c-bad"}` {
		t.Fatalf("dead letters %+v", dls)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and localhost, its own
// CA, and its key.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "railyard-ingest-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS serves HTTPS and MQTT over TLS and reaches both with verifying
// clients: Go's net/http, curl and mosquitto_pub.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	env := newTestEnv(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile, MQTTAddr: "127.0.0.1:0"})
	if !strings.HasPrefix(env.url, "https://") {
		t.Fatalf("url %s", env.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	r := doPost(t, client, env.url+EventsPath, []byte(validEvent("tls-go")), "Content-Type: application/json")
	if r.Status != 202 {
		t.Fatalf("Go client over TLS: %d %s", r.Status, r.Raw)
	}
	if r := curl(t, "--cacert", certFile, "-H", "Content-Type: application/json", "-d", validEvent("tls-curl"), env.url+EventsPath); r.Status != 202 {
		t.Fatalf("curl over TLS: %d %s", r.Status, r.Raw)
	}
	if out, err := env.mqttPub("--cafile", certFile, "-t", "railyard/events/tls", "-m", validEvent("tls-mqtt")); err != nil {
		t.Fatalf("mosquitto_pub over TLS: %v: %s", err, out)
	}
	// A client that does not trust the certificate gets nowhere.
	if _, err := http.Post(env.url+EventsPath, "application/json", strings.NewReader(validEvent("untrusted"))); err == nil {
		t.Fatal("an unverified TLS connection succeeded")
	}
	if out, err := env.mqttPub("-t", "railyard/events/tls", "-m", validEvent("plain-mqtt")); err == nil {
		t.Fatalf("plain MQTT to the TLS listener succeeded: %s", out)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "tls-curl,tls-go,tls-mqtt" {
		t.Fatalf("events topic has %s", got)
	}
}

// TestGracefulShutdown: with an HTTP request and an MQTT message waiting
// for Pub/Sub, Shutdown stops accepting new connections and new publishes,
// lets both finish — 202 and PUBACK — and only then returns; their events
// are in pstest.
func TestGracefulShutdown(t *testing.T) {
	g := newGate(DefaultTopic)
	env := newTestEnv(t, Config{MQTTAddr: "127.0.0.1:0"}, g.option())
	t.Cleanup(g.release)

	inflight := postAsync(t, env.url+EventsPath, jsonArray(validEvent("drain-1"), validEvent("drain-2")), "Content-Type: application/json")
	g.waitEntered(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mqttCmd := env.mqttCommand(ctx, "-V", "5", "-i", "drain-client", "-t", "railyard/events/drain", "-m", validEvent("drain-mqtt"))
	var mqttOut strings.Builder
	mqttCmd.Stdout, mqttCmd.Stderr = &mqttOut, &mqttOut
	if err := mqttCmd.Start(); err != nil {
		t.Fatal(err)
	}
	mqttDone := make(chan error, 1)
	go func() { mqttDone <- mqttCmd.Wait() }()
	waitFor(t, "both publishes outstanding", func() bool { return env.gw.Stats().Outstanding == 3 })

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- env.gw.Shutdown(ctx) }()
	// New connections are refused once draining starts.
	waitFor(t, "the HTTP listener to close", func() bool { return dialRefused(env.gw.HTTPAddr()) })
	waitFor(t, "the MQTT listener to close", func() bool { return dialRefused(env.gw.MQTTAddr()) })
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned (%v) with publishes in flight", err)
	case r := <-inflight:
		t.Fatalf("in-flight request answered %d before Pub/Sub confirmed: %s", r.Status, r.Raw)
	default:
	}

	g.release()
	if r := <-inflight; r.Status != 202 || *r.Accepted != 2 {
		t.Fatalf("in-flight request: %d %s", r.Status, r.Raw)
	}
	if err := <-mqttDone; err != nil || strings.Contains(mqttOut.String(), "failed") {
		t.Fatalf("in-flight MQTT publish: %v: %s", err, mqttOut.String())
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := strings.Join(env.eventIDs(), ","); got != "drain-1,drain-2,drain-mqtt" {
		t.Fatalf("events topic has %s", got)
	}
}

func dialRefused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// waitFor polls cond until it holds (a state change made by another
// goroutine, not a performance bound).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
