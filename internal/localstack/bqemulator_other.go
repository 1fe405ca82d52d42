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

// BuildTakes is how long the one-off build of the BigQuery emulator
// usually takes.
const BuildTakes = "about 11 minutes on 2 cores"

// BigQueryEmulatorBinary is not supported on this system.
func BigQueryEmulatorBinary() (string, bool, error) { return "", false, errUnsupported }

// DownloadBigQueryEmulatorModules is not supported on this system.
func DownloadBigQueryEmulatorModules(ctx context.Context, progress func(done, total int)) error {
	return errUnsupported
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
