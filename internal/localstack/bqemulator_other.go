//go:build !unix

package localstack

import (
	"context"
	"errors"
	"io"
)

var errUnsupported = errors.New("the BigQuery emulator stand-in needs a Unix system")

// EnsureBigQueryEmulator is not supported on this system.
func EnsureBigQueryEmulator(ctx context.Context, log io.Writer) (string, error) {
	return "", errUnsupported
}

type bqProcess struct {
	endpoint string
	grpcAddr string
}

func (p *bqProcess) pid() int    { return 0 }
func (p *bqProcess) stop() error { return nil }

func startBigQuery(ctx context.Context, bin, project, logLevel string, log io.Writer) (*bqProcess, error) {
	return nil, errUnsupported
}
