package runners

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
)

// edgesOf lists the pipeline's transforms.
func edgesOf(p *beam.Pipeline) []*graph.MultiEdge {
	edges, _, err := p.Build()
	if err != nil {
		return nil
	}
	return edges
}

// printPlan writes a dry run's account of the job to stdout: where it would
// run, in which mode, and its transforms in graph order.
func printPlan(mode Mode, runner string, unbounded bool, nodes []*graph.Node, edges []*graph.MultiEdge) {
	var b strings.Builder
	kind := "bounded input: runs as a batch job"
	if unbounded {
		kind = "unbounded input: runs as a streaming job"
	}
	fmt.Fprintf(&b, "dry run: %s pipeline for %s (%s), not submitted\n", mode, runner, describeTarget(runner, currentFlags()))
	fmt.Fprintf(&b, "  %d transforms, %d collections, %s\n", len(edges), len(nodes), kind)
	for _, e := range edges {
		name := e.Name()
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:] // the function, without its package path
		}
		if scope := scopePath(e.Scope()); scope != "" {
			name = scope + ": " + name
		}
		fmt.Fprintf(&b, "  %-10s %s\n", e.Op, name)
	}
	fmt.Fprint(os.Stdout, b.String())
}

// scopePath is a scope's label path, root excluded: "DedupeStream" or
// "team_scores/bqsink.Append(realtime.team_scores)".
func scopePath(s *graph.Scope) string {
	var parts []string
	for ; s != nil && s.Parent != nil; s = s.Parent {
		parts = append(parts, s.Label)
	}
	slices.Reverse(parts)
	return strings.Join(parts, "/")
}
