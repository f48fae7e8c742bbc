// Package testenv starts the real third-party servers that tests run against
// — a throwaway PostgreSQL and a MinIO server, each on a loopback port with a
// temporary directory — so that every package's tests share one way of doing
// it. A missing binary skips the test, or fails it when CI=true: in CI,
// scripts/deps.sh has installed everything.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// PostgresBin is where Debian's PostgreSQL 15 server binaries live.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// missing skips t, or fails it under CI=true, for an absent dependency.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// LoopbackAddr returns a 127.0.0.1 address that was free a moment ago.
func LoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// poll calls ready every 100ms until it reports true or timeout passes, and
// then fails t with the server's logs. It waits on an external process, never
// on test state.
func poll(t testing.TB, timeout time.Duration, what string, logs *syncBuffer, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v\n%s", what, timeout, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PostgresServer returns the URL of a PostgreSQL server's "postgres" database
// on which the test may create databases: STRATA_TEST_POSTGRES if set, else a
// throwaway server started from PostgresBin on a temp dir and a loopback port
// (as user postgres when running as root, since initdb refuses root). The
// server stops when t ends.
func PostgresServer(t testing.TB) string {
	t.Helper()
	if base := os.Getenv("STRATA_TEST_POSTGRES"); base != "" {
		return base
	}
	if _, err := os.Stat(filepath.Join(PostgresBin, "initdb")); err != nil {
		missing(t, "PostgreSQL binaries missing in %s (scripts/deps.sh installs them)", PostgresBin)
	}
	dir, err := os.MkdirTemp("", "strata-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		pu, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pu.Uid)
		gid, _ := strconv.Atoi(pu.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		_ = os.Chmod(dir, 0o755)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(PostgresBin, name), args...)
		c.Dir = dir
		if cred != nil {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-A", "trust", "-U", "strata", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	_, port, _ := net.SplitHostPort(LoopbackAddr(t))
	srv := run("postgres", "-D", data, "-p", port, "-h", "127.0.0.1", "-k", dir, "-c", "fsync=off")
	var logs syncBuffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Signal(syscall.SIGINT); _ = srv.Wait() })
	url := fmt.Sprintf("postgres://strata@127.0.0.1:%s/postgres?sslmode=disable", port)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	poll(t, 30*time.Second, "postgres", &logs, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return db.PingContext(ctx) == nil
	})
	return url
}

var dbSeq atomic.Int64

// PostgresDatabase creates an empty database on the server at base (a URL from
// PostgresServer), drops it when t ends, and returns its URL.
func PostgresDatabase(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("strata_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("pgx", base); err == nil {
			_, _ = db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			db.Close()
		}
	})
	u, err := WithDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// WithDatabase returns the postgres:// URL base with its database name
// replaced by db, keeping any query parameters.
func WithDatabase(base, db string) (string, error) {
	u, q := base, ""
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, q = u[:i], u[i:]
	}
	slash := strings.LastIndexByte(u, '/')
	if slash < len("postgres://") {
		return "", fmt.Errorf("testenv: postgres url %q has no database part", base)
	}
	return u[:slash+1] + db + q, nil
}

// MinIOBinary returns the MinIO server binary: $STRATA_MINIO_BIN, else
// $STRATA_CACHE/bin/minio (default ~/.cache/strata), where scripts/deps.sh
// builds it.
func MinIOBinary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("STRATA_MINIO_BIN")
	if p == "" {
		cache := os.Getenv("STRATA_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "strata")
		}
		p = filepath.Join(cache, "bin", "minio")
	}
	if _, err := os.Stat(p); err != nil {
		missing(t, "MinIO binary %s missing (scripts/deps.sh builds it): %v", p, err)
	}
	return p
}

// MinIO runs a MinIO server on a loopback port with a temporary data
// directory until t ends, and returns its endpoint and root credentials.
func MinIO(t testing.TB) (endpoint, user, password string) {
	t.Helper()
	bin := MinIOBinary(t)
	addr, console := LoopbackAddr(t), LoopbackAddr(t)
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	user, password = "strataminio", hex.EncodeToString(pw[:])
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+password, "MINIO_BROWSER=off",
		"MINIO_UPDATE=off", "HOME="+t.TempDir())
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	endpoint = "http://" + addr
	poll(t, 60*time.Second, "minio", &logs, func() bool {
		resp, err := http.Get(endpoint + "/minio/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return endpoint, user, password
}

// syncBuffer collects a child process's output; String may be called while
// the process still writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
