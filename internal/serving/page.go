package serving

import (
	_ "embed"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
)

// page is the leaderboard page: one self-contained HTML file (styles,
// script and the chart drawn as SVG inline), so the binary serves it with
// no build step and the page fetches nothing but this API.
//
//go:embed page/index.html
var page []byte

var pageETag = func() string {
	h := fnv.New64a()
	_, _ = h.Write(page)
	return fmt.Sprintf(`"%016x"`, h.Sum64())
}()

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("ETag", pageETag)
	h.Set("Cache-Control", "no-cache")
	// The page loads nothing from elsewhere; say so to the browser too.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, pageETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(page)
	}
}
