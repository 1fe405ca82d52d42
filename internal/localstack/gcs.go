package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func (s *Stack) startGCS(buckets []string) error {
	// Listen first, so the port is known (and ours) before the server is
	// built: the public host must be exactly "127.0.0.1:<port>".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hostPort := l.Addr().String()
	base := "http://" + hostPort
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:      "http",
		Host:        "127.0.0.1",
		Port:        uint16(l.Addr().(*net.TCPAddr).Port),
		NoListener:  true,
		PublicHost:  hostPort,
		ExternalURL: base,
	})
	if err != nil {
		l.Close()
		return err
	}
	hs := &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(s.log, "localstack: fake-gcs-server: %v\n", err)
		}
	}()
	s.GCSServer = srv
	s.GCSEndpoint = base
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := hs.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			// Requests still running after 5 s: cut them off.
			err = hs.Close()
		}
		<-done
		srv.Stop()
		return err
	})
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	fmt.Fprintf(s.log, "localstack: GCS (fake-gcs-server) on %s\n", base)
	return nil
}
