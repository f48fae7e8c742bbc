package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/strata-ml/strata/internal/store"
)

func init() {
	Register(Command{
		Name:    "jobs",
		Summary: "inspect customization jobs in the data dir: jobs list --account A, jobs events --account A ID",
		Run:     runJobs,
	})
}

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: list or events", ErrUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("jobs "+sub, stderr)
	var cf configFlags
	cf.register(fs, false)
	account := fs.String("account", "", "12-digit account id (default: the configured STRATA_ACCOUNT_ID)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, cfg, err := openStore(ctx, &cf)
	if err != nil {
		return err
	}
	defer st.Close()
	acct := *account
	if acct == "" {
		acct = cfg.AccountID
	}
	if acct == "" {
		return fmt.Errorf("%w: --account is required", ErrUsage)
	}
	switch sub {
	case "list":
		js, err := st.ListJobs(ctx, store.JobQuery{Account: acct})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSTEP\tCREATED\tBASE MODEL")
		for _, j := range js {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Name, j.Status, j.Step, j.TotalSteps, j.CreationTime.Format(time.RFC3339), j.BaseModelID)
		}
		return tw.Flush()
	case "events":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: jobs events ID", ErrUsage)
		}
		j, err := st.GetJob(ctx, acct, fs.Arg(0))
		if err != nil {
			if j, err = st.GetJobByName(ctx, acct, fs.Arg(0)); err != nil {
				return err
			}
		}
		evs, err := st.ListEvents(ctx, j.ID, 0, 0)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, e := range evs {
			_ = enc.Encode(e)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand %q (list, events)", ErrUsage, sub)
}
