package provision

import (
	"context"

	"github.com/strata-ml/strata/internal/awsproto"
)

// owned is a resource that belongs to an account and is found by name or ARN.
type owned interface {
	owner() (account, arn, name string)
	token() string // the client request token it was created with
}

func (t *Throughput) owner() (string, string, string) { return t.Account, t.ARN, t.Name }
func (d *Deployment) owner() (string, string, string) { return d.Account, d.ARN, d.Name }
func (t *Throughput) token() string                   { return t.ClientRequestToken }
func (d *Deployment) token() string                   { return d.ClientRequestToken }

// raceWinner returns, after a create lost a name race in the store, the
// resource another server process created for this very request (the same
// client token, a retry that reached it), listed by list; false if none.
func raceWinner[T owned](ctx context.Context, token string, list func(context.Context) ([]T, error)) (T, bool) {
	var zero T
	if token == "" {
		return zero, false
	}
	all, err := list(ctx)
	if err != nil {
		return zero, false
	}
	for _, r := range all {
		if r.token() == token {
			return r, true
		}
	}
	return zero, false
}

// findOwned returns the resource of account that ident (parsed as id) names:
// by ARN when ident is one, else by name.
func findOwned[T owned](all []T, account, ident string, id awsproto.Ident) (T, bool) {
	for _, r := range all {
		acct, arn, name := r.owner()
		if acct == account && (id.ARN != nil && arn == ident || id.ARN == nil && name == id.Name) {
			return r, true
		}
	}
	var zero T
	return zero, false
}
