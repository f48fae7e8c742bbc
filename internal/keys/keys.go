// Package keys manages API credentials: SigV4 access key pairs, whose secret
// is kept sealed (AES-GCM with a server key in the data dir) because SigV4
// verification needs the secret itself, and Bearer API keys
// (AWS_BEARER_TOKEN_BEDROCK), of which only a SHA-256 hash is stored. Every
// key belongs to one 12-digit account id.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/store"
)

// ErrUnknownKey is returned for an unknown, expired or mismatching key.
var ErrUnknownKey = errors.New("keys: unknown key")

// Store is the part of store.Store the manager uses.
type Store interface {
	PutKey(ctx context.Context, k *store.Key) error
	GetKey(ctx context.Context, id string) (*store.Key, error)
	ListKeys(ctx context.Context) ([]*store.Key, error)
	DeleteKey(ctx context.Context, id string) error
}

// Manager creates and verifies keys. It is safe for concurrent use.
type Manager struct {
	st   Store
	aead cipher.AEAD
	now  func() time.Time
}

// ServerKeyFile is the name of the sealing key file in the data dir.
const ServerKeyFile = "server.key"

// Open returns a Manager whose sealing key lives in dataDir/server.key
// (created with mode 0600 on first use).
func Open(st Store, dataDir string) (*Manager, error) {
	path := filepath.Join(dataDir, ServerKeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("keys: generate server key: %w", err)
		}
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		tmp := path + ".tmp"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keys: write server key: %w", err)
		}
		_, werr := f.Write(key)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return nil, fmt.Errorf("keys: write server key: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("keys: write server key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("keys: read server key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("keys: %s: want 32 bytes, have %d", path, len(key))
	}
	return New(st, key)
}

// New returns a Manager with an explicit 32-byte sealing key.
func New(st Store, sealKey []byte) (*Manager, error) {
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Manager{st: st, aead: aead, now: time.Now}, nil
}

const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randString(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// NewAccountID returns a random 12-digit account id.
func NewAccountID() string {
	s := randString("0123456789", 12)
	if s[0] == '0' {
		s = "1" + s[1:]
	}
	return s
}

// CreateSigV4 stores a SigV4 key pair for account. Empty accessKeyID or
// secret are generated. An existing key with the same id is replaced.
func (m *Manager) CreateSigV4(ctx context.Context, account, name, accessKeyID, secret string) (*store.Key, string, error) {
	if accessKeyID == "" {
		accessKeyID = "AKIA" + randString(upper, 16)
	}
	if secret == "" {
		secret = randString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
	}
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("keys: %w", err)
	}
	sealed := m.aead.Seal(nonce, nonce, []byte(secret), []byte(accessKeyID))
	k := &store.Key{ID: accessKeyID, Account: account, Kind: store.KeySigV4, Secret: sealed, Name: name, Created: m.now().UTC()}
	if err := m.st.PutKey(ctx, k); err != nil {
		return nil, "", fmt.Errorf("keys: create: %w", err)
	}
	return k, secret, nil
}

// BearerPrefix starts every bearer token (as Bedrock API keys start with ABSK).
const BearerPrefix = "ABSK"

// CreateBearer stores a new bearer API key for account and returns the
// token, shown once. ttl 0 means no expiry.
func (m *Manager) CreateBearer(ctx context.Context, account, name string, ttl time.Duration) (*store.Key, string, error) {
	id := "BK" + randString(upper, 14)
	secret := randString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 40)
	token := BearerPrefix + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	sum := sha256.Sum256([]byte(token))
	k := &store.Key{ID: id, Account: account, Kind: store.KeyBearer, Hash: hex.EncodeToString(sum[:]), Name: name, Created: m.now().UTC()}
	if ttl > 0 {
		k.ExpiresAt = k.Created.Add(ttl)
	}
	if err := m.st.PutKey(ctx, k); err != nil {
		return nil, "", fmt.Errorf("keys: create: %w", err)
	}
	return k, token, nil
}

// LookupSigV4 returns the secret and account of an access key id.
func (m *Manager) LookupSigV4(ctx context.Context, accessKeyID string) (secret, account string, err error) {
	k, err := m.st.GetKey(ctx, accessKeyID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.Kind != store.KeySigV4) {
		return "", "", fmt.Errorf("keys: %q: %w", accessKeyID, ErrUnknownKey)
	}
	if err != nil {
		return "", "", fmt.Errorf("keys: lookup: %w", err)
	}
	if !k.ExpiresAt.IsZero() && m.now().After(k.ExpiresAt) {
		return "", "", fmt.Errorf("keys: %q expired: %w", accessKeyID, ErrUnknownKey)
	}
	ns := m.aead.NonceSize()
	if len(k.Secret) < ns {
		return "", "", fmt.Errorf("keys: %q: sealed secret too short", accessKeyID)
	}
	plain, err := m.aead.Open(nil, k.Secret[:ns], k.Secret[ns:], []byte(accessKeyID))
	if err != nil {
		return "", "", fmt.Errorf("keys: unseal %q (wrong server.key?): %w", accessKeyID, err)
	}
	return string(plain), k.Account, nil
}

// VerifyBearer checks a bearer token and returns its key.
func (m *Manager) VerifyBearer(ctx context.Context, token string) (*store.Key, error) {
	raw, ok := strings.CutPrefix(token, BearerPrefix)
	if !ok {
		return nil, fmt.Errorf("keys: bearer token: %w", ErrUnknownKey)
	}
	dec, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("keys: bearer token: %w", ErrUnknownKey)
	}
	id, _, ok := strings.Cut(string(dec), ":")
	if !ok {
		return nil, fmt.Errorf("keys: bearer token: %w", ErrUnknownKey)
	}
	k, err := m.st.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("keys: bearer %s: %w", id, ErrUnknownKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: bearer: %w", err)
	}
	sum := sha256.Sum256([]byte(token))
	want, _ := hex.DecodeString(k.Hash)
	if k.Kind != store.KeyBearer || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil, fmt.Errorf("keys: bearer %s: %w", id, ErrUnknownKey)
	}
	if !k.ExpiresAt.IsZero() && m.now().After(k.ExpiresAt) {
		return nil, fmt.Errorf("keys: bearer %s expired: %w", id, ErrUnknownKey)
	}
	return k, nil
}

// List returns every key (secrets stay sealed).
func (m *Manager) List(ctx context.Context) ([]*store.Key, error) { return m.st.ListKeys(ctx) }

// Delete removes a key.
func (m *Manager) Delete(ctx context.Context, id string) error { return m.st.DeleteKey(ctx, id) }

// EnsureInitial makes sure a SigV4 key exists: with accessKeyID and secret
// set, that exact pair (replacing a different secret); otherwise the first
// existing SigV4 key, or a new one. It returns the pair and its account.
func (m *Manager) EnsureInitial(ctx context.Context, account, accessKeyID, secret string) (akid, sec, acct string, err error) {
	if accessKeyID != "" && secret != "" {
		if s, a, err := m.LookupSigV4(ctx, accessKeyID); err == nil {
			if s == secret && (account == "" || a == account) {
				return accessKeyID, secret, a, nil
			}
			if account == "" {
				account = a
			}
		}
		if account == "" {
			account = NewAccountID()
		}
		if _, _, err := m.CreateSigV4(ctx, account, "initial", accessKeyID, secret); err != nil {
			return "", "", "", err
		}
		return accessKeyID, secret, account, nil
	}
	ks, err := m.st.ListKeys(ctx)
	if err != nil {
		return "", "", "", fmt.Errorf("keys: %w", err)
	}
	for _, k := range ks {
		if k.Kind == store.KeySigV4 && k.Name == "initial" {
			s, a, err := m.LookupSigV4(ctx, k.ID)
			if err == nil {
				return k.ID, s, a, nil
			}
		}
	}
	if account == "" {
		account = NewAccountID()
	}
	k, s, err := m.CreateSigV4(ctx, account, "initial", "", "")
	if err != nil {
		return "", "", "", err
	}
	return k.ID, s, account, nil
}
