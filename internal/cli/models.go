package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/store"
)

func init() {
	Register(Command{
		Name:    "models",
		Summary: "manage foundation models: models add --id ID --dir DIR --family F, models list, models remove ID",
		Run:     runModels,
	})
}

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: add, list or remove", ErrUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("models "+sub, stderr)
	var cf configFlags
	cf.register(fs, false)
	id := fs.String("id", "", "Bedrock-style model id, e.g. meta.llama3-1-8b-instruct-v1:0")
	dir := fs.String("dir", "", "Hugging Face model directory (config.json, *.safetensors, tokenizer.json)")
	family := fs.String("family", "llama", fmt.Sprintf("model family %v", catalog.FamilyNames()))
	name := fs.String("name", "", "display name (≤ 20 characters)")
	provider := fs.String("provider", "", "provider name (default from the id prefix)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, _, err := openStore(ctx, &cf)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add":
		if *id == "" || *dir == "" {
			return fmt.Errorf("%w: models add needs --id and --dir", ErrUsage)
		}
		if !awsproto.Match("GetFoundationModelIdentifier", *id) || *id == catalog.StarterID {
			return fmt.Errorf("model id %q must look like provider.name-version:0 (and not be %s)", *id, catalog.StarterID)
		}
		if _, ok := catalog.LookupFamily(*family); !ok {
			return fmt.Errorf("unknown family %q (known: %v)", *family, catalog.FamilyNames())
		}
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(abs, "config.json")); err != nil {
			return fmt.Errorf("%s is not a Hugging Face model directory: %w", abs, err)
		}
		m := &store.FoundationModel{ID: *id, Dir: abs, Family: *family, Name: *name, Provider: *provider, Created: time.Now().UTC()}
		if err := st.PutFoundationModel(ctx, m); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "registered %s (%s family) from %s\n", m.ID, m.Family, m.Dir)
		return nil
	case "list":
		ms, err := catalog.New(st).List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tFAMILY\tPROVIDER\tDIR")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.Family.Name, m.Provider, m.Dir)
		}
		return tw.Flush()
	case "remove":
		target := *id
		if target == "" && fs.NArg() == 1 {
			target = fs.Arg(0)
		}
		if target == "" {
			return fmt.Errorf("%w: models remove ID", ErrUsage)
		}
		return st.DeleteFoundationModel(ctx, target)
	}
	return fmt.Errorf("%w: unknown subcommand %q (add, list, remove)", ErrUsage, sub)
}
