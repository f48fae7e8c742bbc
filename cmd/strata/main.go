// Command strata is a self-hosted model-customization service that speaks
// Amazon Bedrock's API, and the command-line tools around it.
//
//	strata server      run the API (Bedrock control plane, runtime, S3) with embedded defaults
//	strata train       fine-tune or continue pre-training a local Hugging Face model
//	strata generate    generate text with a model directory and optional adapter
//	strata help        list every command
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-ml/strata/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
