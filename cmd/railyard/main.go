// Command railyard is the operator CLI of the railyard data platform: the
// catalog (docs, DDL, plan, apply), the synthetic event generator and the
// local demo. Run `railyard --help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/railyard-dev/railyard/schemas/catalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "railyard:", err)
		var breaking *catalog.BreakingChangeError
		if errors.As(err, &breaking) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
