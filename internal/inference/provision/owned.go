package provision

import "github.com/strata-ml/strata/internal/awsproto"

// owned is a resource that belongs to an account and is found by name or ARN.
type owned interface {
	owner() (account, arn, name string)
}

func (t *Throughput) owner() (string, string, string) { return t.Account, t.ARN, t.Name }
func (d *Deployment) owner() (string, string, string) { return d.Account, d.ARN, d.Name }

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
