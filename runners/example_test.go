package runners_test

import (
	"context"
	"flag"
	"log"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/railyard-dev/railyard/runners"
)

// A pipeline main: its own flags, runners.Init, the graph, runners.Run.
//
//	go run ./pipelines/copy --output=/tmp/out.txt                       # prism
//	go run ./pipelines/copy --profile=flink --output=/tmp/out.txt       # local Flink job server
//	go run ./pipelines/copy --profile=dataflow --project=p --staging_location=gs://b/staging \
//	    --output=gs://b/out.txt --dry_run
func Example() {
	output := flag.String("output", "", "where to write")
	if err := runners.Init(); err != nil { // parses flags, applies --profile, beam.Init
		log.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	textio.Write(s, *output, beam.Create(s, "a", "b"))
	if _, err := runners.Run(context.Background(), p, runners.Batch); err != nil {
		log.Fatal(err)
	}
}
