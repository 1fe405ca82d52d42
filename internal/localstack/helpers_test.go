package localstack_test

import (
	"net"
	"testing"
	"time"
)

// assertPortClosed fails unless nothing accepts connections on addr.
func assertPortClosed(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
}
