package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// Version is the strata release, set at build time with -ldflags "-X".
var Version = "dev"

func init() {
	Register(Command{
		Name:    "version",
		Summary: "print the strata version",
		Run: func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintf(stdout, "strata %s %s/%s %s\n", Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
			return nil
		},
	})
}
