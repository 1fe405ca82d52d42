package serving

import (
	"net/http"

	"github.com/railyard-dev/railyard/internal/ingest"
)

// authenticator checks bearer tokens with the ingest gateway's
// Authenticator (constant-time comparison of digests, several tokens for
// rotation), answering with this API's reasons.
type authenticator struct{ a *ingest.Authenticator }

func newAuthenticator(tokens []string) authenticator {
	return authenticator{ingest.NewAuthenticator(tokens)}
}

// check returns status 0 when the request may go on, else the status,
// reason and message of the refusal.
func (a authenticator) check(authorization string) (int, string, string) {
	e := a.a.CheckHeader(authorization)
	switch {
	case e == nil:
		return 0, "", ""
	case e.Status == http.StatusForbidden:
		return e.Status, ReasonInvalidToken, e.Message
	default:
		return e.Status, ReasonMissingToken, e.Message
	}
}

// ReadTokenFile reads bearer tokens, one per line (# comments).
var ReadTokenFile = ingest.ReadTokenFile
