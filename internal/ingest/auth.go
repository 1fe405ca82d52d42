package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Authenticator checks bearer tokens. With no tokens configured it lets
// everything through.
type Authenticator struct {
	// Tokens are kept as SHA-256 digests so that every comparison has the
	// same length, and so the same duration whatever the guess.
	digests [][sha256.Size]byte
}

// NewAuthenticator accepts any of tokens; empty strings are ignored.
func NewAuthenticator(tokens []string) *Authenticator {
	a := &Authenticator{}
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" {
			a.digests = append(a.digests, sha256.Sum256([]byte(t)))
		}
	}
	return a
}

// Enabled reports whether tokens are required.
func (a *Authenticator) Enabled() bool { return len(a.digests) > 0 }

// Valid reports whether token is one of the configured tokens, in time
// independent of where (or whether) it matches.
func (a *Authenticator) Valid(token []byte) bool {
	d := sha256.Sum256(token)
	match := 0
	for i := range a.digests {
		match |= subtle.ConstantTimeCompare(d[:], a.digests[i][:])
	}
	return match == 1
}

// CheckHeader checks an HTTP Authorization header: nil when auth is off or
// the bearer token is valid, a 401 when it is missing or not a bearer
// token, a 403 when the token is wrong.
func (a *Authenticator) CheckHeader(authorization string) *RequestError {
	if !a.Enabled() {
		return nil
	}
	if authorization == "" {
		return &RequestError{Status: http.StatusUnauthorized, Reason: ReasonMissingToken,
			Message: "this gateway requires an Authorization: Bearer <token> header"}
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return &RequestError{Status: http.StatusUnauthorized, Reason: ReasonMalformedAuthorization,
			Message: "the Authorization header is not of the form Bearer <token>"}
	}
	if !a.Valid([]byte(token)) {
		return &RequestError{Status: http.StatusForbidden, Reason: ReasonInvalidToken,
			Message: "the bearer token is not valid for this gateway"}
	}
	return nil
}

// ReadTokenFile reads tokens from a file, one per line; blank lines and
// lines starting with # are ignored. Several tokens allow rotation without
// downtime.
func ReadTokenFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tokens = append(tokens, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ingest: token file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("ingest: token file %s holds no token", path)
	}
	return tokens, nil
}
