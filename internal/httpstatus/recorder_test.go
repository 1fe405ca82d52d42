package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRecorder: the first status written wins, a body without a header
// is a 200, and the response still reaches the client.
func TestRecorder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter)
		want    int
	}{
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("ok")) }, http.StatusOK},
		{"explicit 400", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest); _, _ = w.Write([]byte("ok")) }, http.StatusBadRequest},
		{"second header ignored", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError)
		}, http.StatusAccepted},
		{"write then header", func(w http.ResponseWriter) { _, _ = w.Write([]byte("ok")); w.WriteHeader(http.StatusTeapot) }, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			rec := NewRecorder(rr)
			tc.handler(rec)
			if rec.Status != tc.want || rr.Code != tc.want {
				t.Errorf("recorded %d, client got %d, want %d", rec.Status, rr.Code, tc.want)
			}
			if rec.Unwrap() != rr {
				t.Error("Unwrap does not return the wrapped writer")
			}
		})
	}
}
