package localstack

import (
	"fmt"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func (s *Stack) startPubSub() (err error) {
	// pstest panics when it cannot listen.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("starting pstest: %v", r)
		}
	}()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	s.PubSubServer = srv
	s.PubSubEndpoint = srv.Addr
	s.closers = append(s.closers, srv.Close)
	fmt.Fprintf(s.log, "localstack: Pub/Sub (pstest) on %s\n", srv.Addr)
	return nil
}
