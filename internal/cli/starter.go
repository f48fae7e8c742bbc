package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/strata-ml/strata/engine/starter"
)

func init() {
	Register(Command{
		Name:    "starter",
		Summary: "build (once) the small starter model and write its sample dataset",
		Run:     runStarter,
	})
}

// starterCacheDir is where the starter model is built: $STRATA_CACHE/starter
// or the user cache directory.
func starterCacheDir() string {
	if d := os.Getenv("STRATA_CACHE"); d != "" {
		return filepath.Join(d, "starter")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "strata", "starter")
	}
	return filepath.Join(os.TempDir(), "strata-starter")
}

// resolveModelDir maps the name "starter" to the starter model's directory,
// building it on first use.
func resolveModelDir(dir string, stderr io.Writer) (string, error) {
	if dir != "starter" {
		return dir, nil
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil // a real directory called "starter"
	}
	fmt.Fprintln(stderr, "preparing the starter model (first time only, a minute or two)...")
	return starter.Ensure(starterCacheDir())
}

func runStarter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("starter", stderr)
	dir := fs.String("dir", starterCacheDir(), "cache directory for the starter model")
	data := fs.String("sample-data", "", "also write the sample dataset (tickets-{train,validation,test}.jsonl) to this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	fmt.Fprintln(stderr, "preparing the starter model (built once, then cached)...")
	m, err := starter.EnsureWith(ctx, *dir, starter.Options{})
	if err != nil {
		return err
	}
	if *data != "" {
		paths, err := starter.WriteSampleDataset(*data)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintln(stderr, "wrote", p)
		}
	}
	fmt.Fprintln(stdout, m)
	return nil
}
