package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/strata-ml/strata/internal/keys"
)

func init() {
	Register(Command{
		Name:    "keys",
		Summary: "manage API credentials: keys create [--bearer], keys list, keys delete ID",
		Run:     runKeys,
	})
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: create, list or delete", ErrUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, stderr)
	var cf configFlags
	cf.register(fs, false)
	bearer := fs.Bool("bearer", false, "create a Bearer API key (AWS_BEARER_TOKEN_BEDROCK) instead of a SigV4 key pair")
	account := fs.String("account", "", "12-digit account id (default: the initial key's account; \"new\" for a fresh account)")
	name := fs.String("name", "", "a name for the key")
	ttl := fs.Duration("ttl", 0, "bearer key lifetime (0 = no expiry)")
	akid := fs.String("access-key-id", "", "use this access key id (SigV4)")
	secret := fs.String("secret-access-key", "", "use this secret (SigV4)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, cfg, err := openStore(ctx, &cf)
	if err != nil {
		return err
	}
	defer st.Close()
	km, err := keys.Open(st, cfg.DataDir)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		acct := *account
		switch acct {
		case "new":
			acct = keys.NewAccountID()
		case "":
			if _, _, a, err := km.EnsureInitial(ctx, cfg.AccountID, cfg.AccessKeyID, cfg.SecretAccessKey); err == nil {
				acct = a
			} else {
				return err
			}
		}
		if *bearer {
			k, token, err := km.CreateBearer(ctx, acct, *name, *ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "id:      %s\naccount: %s\n", k.ID, k.Account)
			if !k.ExpiresAt.IsZero() {
				fmt.Fprintf(stdout, "expires: %s\n", k.ExpiresAt.Format(time.RFC3339))
			}
			fmt.Fprintf(stdout, "\nexport AWS_BEARER_TOKEN_BEDROCK=%s\n", token)
			return nil
		}
		k, s, err := km.CreateSigV4(ctx, acct, *name, *akid, *secret)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account: %s\n\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n", k.Account, k.ID, s)
		return nil
	case "list":
		ks, err := km.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tACCOUNT\tNAME\tCREATED\tEXPIRES")
		for _, k := range ks {
			exp := "-"
			if !k.ExpiresAt.IsZero() {
				exp = k.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Account, k.Name, k.Created.Format(time.RFC3339), exp)
		}
		return tw.Flush()
	case "delete":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: keys delete ID", ErrUsage)
		}
		return km.Delete(ctx, fs.Arg(0))
	}
	return fmt.Errorf("%w: unknown subcommand %q (create, list, delete)", ErrUsage, sub)
}
