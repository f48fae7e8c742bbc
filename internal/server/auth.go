package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/keys"
	"github.com/strata-ml/strata/internal/sigv4"
)

// KeyAuth authenticates Bedrock requests with SigV4 (signing service
// "bedrock", for both the control plane and the runtime) or a Bearer API key.
type KeyAuth struct {
	keys *keys.Manager
	v    *sigv4.Verifier
}

// NewKeyAuth returns the Authenticator backed by the key manager.
func NewKeyAuth(km *keys.Manager, region string) *KeyAuth {
	lookup := keyLookup(km)
	var regions []string
	if region != "" {
		regions = []string{region}
	}
	return &KeyAuth{keys: km, v: sigv4.New(sigv4.Options{Services: []string{"bedrock"}, Regions: regions, Lookup: lookup, MaxBodyBytes: 64 << 20})}
}

// keyLookup adapts the key manager to sigv4.Lookup.
func keyLookup(km *keys.Manager) sigv4.Lookup {
	return func(ctx context.Context, akid string) (string, string, error) {
		secret, account, err := km.LookupSigV4(ctx, akid)
		if errors.Is(err, keys.ErrUnknownKey) {
			return "", "", fmt.Errorf("%w: %w", sigv4.ErrUnknownAccessKey, err)
		}
		return secret, account, err
	}
}

var bedrockCodeKinds = map[string]apierr.Kind{
	"MissingAuthenticationTokenException": apierr.MissingAuthenticationToken,
	"IncompleteSignatureException":        apierr.IncompleteSignature,
	"UnrecognizedClientException":         apierr.UnrecognizedClient,
	"InvalidSignatureException":           apierr.InvalidSignature,
	"ExpiredTokenException":               apierr.ExpiredToken,
	"ValidationException":                 apierr.Validation,
	"AccessDeniedException":               apierr.AccessDenied,
}

// Authenticate implements Authenticator.
func (a *KeyAuth) Authenticate(r *http.Request) (Identity, error) {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		k, err := a.keys.VerifyBearer(r.Context(), strings.TrimSpace(tok))
		if errors.Is(err, keys.ErrUnknownKey) {
			return Identity{}, apierr.Wrap(apierr.UnrecognizedClient, "The security token included in the request is invalid.", err)
		}
		if err != nil {
			return Identity{}, fmt.Errorf("server: bearer auth: %w", err)
		}
		return Identity{Account: k.Account, KeyID: k.ID, Method: "bearer"}, nil
	}
	if !sigv4.HasAuth(r) {
		return Identity{}, apierr.New(apierr.MissingAuthenticationToken, "Missing Authentication Token")
	}
	id, err := a.v.Verify(r)
	if err != nil {
		if se, ok := errors.AsType[*sigv4.Error](err); ok {
			code, _ := se.Bedrock()
			kind, known := bedrockCodeKinds[code]
			if !known {
				return Identity{}, fmt.Errorf("server: sigv4: %w", err)
			}
			return Identity{}, apierr.Wrap(kind, se.Message, err)
		}
		return Identity{}, fmt.Errorf("server: sigv4: %w", err)
	}
	return Identity{Account: id.Account, KeyID: id.AccessKeyID, Method: "sigv4"}, nil
}
