package transforms

import "github.com/apache/beam/sdks/v2/go/pkg/beam"

// MetricsNamespace is the Beam metrics namespace of every railyard counter.
const MetricsNamespace = "railyard"

// Counter names of the reconciliation figures:
// read = valid + invalid; valid = unique + duplicates.
const (
	MetricRead       = "events_read"
	MetricValid      = "events_valid"
	MetricInvalid    = "events_invalid"
	MetricUnique     = "events_unique"
	MetricDuplicates = "events_duplicate"
	// MetricInvalidPrefix + reason counts invalid inputs per reason.
	MetricInvalidPrefix = "invalid_"
)

var (
	readCounter      = beam.NewCounter(MetricsNamespace, MetricRead)
	validCounter     = beam.NewCounter(MetricsNamespace, MetricValid)
	invalidCounter   = beam.NewCounter(MetricsNamespace, MetricInvalid)
	uniqueCounter    = beam.NewCounter(MetricsNamespace, MetricUnique)
	duplicateCounter = beam.NewCounter(MetricsNamespace, MetricDuplicates)
)
