package keys

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/store/sqlstore"
)

func newManager(t *testing.T) (*Manager, string) {
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := Open(st, dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func TestSigV4RoundTrip(t *testing.T) {
	m, dir := newManager(t)
	k, secret, err := m.CreateSigV4(t.Context(), "123456789012", "ci", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(k.Secret) == secret || len(secret) != 40 || len(k.ID) != 20 {
		t.Fatalf("key %+v secret %q", k, secret)
	}
	s, a, err := m.LookupSigV4(t.Context(), k.ID)
	if err != nil || s != secret || a != "123456789012" {
		t.Fatalf("LookupSigV4 = %q %q %v", s, a, err)
	}
	// A second manager over the same data dir reads the same server key.
	st2, _ := sqlstore.Open(t.Context(), filepath.Join(dir, "db"))
	defer st2.Close()
	m2, err := Open(st2, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, err := m2.LookupSigV4(t.Context(), k.ID); err != nil || s != secret {
		t.Fatalf("reopened LookupSigV4 = %q %v", s, err)
	}
	if _, _, err := m.LookupSigV4(t.Context(), "AKIANOPE"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key = %v", err)
	}
}

func TestBearer(t *testing.T) {
	m, _ := newManager(t)
	k, token, err := m.CreateBearer(t.Context(), "123456789012", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.VerifyBearer(t.Context(), token)
	if err != nil || got.ID != k.ID || got.Account != "123456789012" {
		t.Fatalf("VerifyBearer = %+v %v", got, err)
	}
	for _, bad := range []string{"", "ABSK", token + "x", "ABSK" + "!!!", token[:len(token)-2] + "AA"} {
		if _, err := m.VerifyBearer(t.Context(), bad); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("VerifyBearer(%q) = %v, want ErrUnknownKey", bad, err)
		}
	}
	_, exp, _ := m.CreateBearer(t.Context(), "123456789012", "short", time.Nanosecond)
	m.now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := m.VerifyBearer(t.Context(), exp); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("expired token = %v", err)
	}
}

func TestEnsureInitial(t *testing.T) {
	m, _ := newManager(t)
	id, sec, acct, err := m.EnsureInitial(t.Context(), "", "AKIDEXAMPLE", "secret1")
	if err != nil || id != "AKIDEXAMPLE" || sec != "secret1" || len(acct) != 12 {
		t.Fatalf("EnsureInitial = %q %q %q %v", id, sec, acct, err)
	}
	_, sec2, acct2, err := m.EnsureInitial(t.Context(), "", "AKIDEXAMPLE", "secret2")
	if err != nil || sec2 != "secret2" || acct2 != acct {
		t.Fatalf("EnsureInitial new secret = %q %q %v", sec2, acct2, err)
	}
	if s, _, _ := m.LookupSigV4(t.Context(), "AKIDEXAMPLE"); s != "secret2" {
		t.Errorf("secret not replaced: %q", s)
	}
}

// FuzzVerifyBearer: any Authorization token is rejected cleanly (never a
// panic, never accepted) unless it is the issued one.
func FuzzVerifyBearer(f *testing.F) {
	dir := f.TempDir()
	st, err := sqlstore.Open(f.Context(), filepath.Join(dir, "db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	m, err := Open(st, dir)
	if err != nil {
		f.Fatal(err)
	}
	_, token, err := m.CreateBearer(f.Context(), "123456789012", "fuzz", 0)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "ABSK", token, token + "=", "ABSKQks6", "ABSK!!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := m.VerifyBearer(t.Context(), s)
		if s == token {
			if err != nil {
				t.Fatalf("issued token rejected: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("token %q accepted as %s", s, k.ID)
		}
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("token %q: %v, want ErrUnknownKey", s, err)
		}
	})
}
