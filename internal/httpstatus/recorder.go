package httpstatus

import "net/http"

// Recorder wraps a ResponseWriter and remembers the status code written
// through it: 200 when the handler writes a body without a header, as
// net/http does.
type Recorder struct {
	http.ResponseWriter
	Status      int
	wroteHeader bool
}

// NewRecorder wraps w; Status is 200 until the handler says otherwise.
func NewRecorder(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records the first code written and passes it on.
func (s *Recorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.Status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *Recorder) Write(p []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
