package archtest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestPackageDocs checks that each package has exactly one file with a
// package doc comment, and that it starts "Package <name>" (or "Command").
func TestPackageDocs(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.Dir}}", "./...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		for name, p := range pkgs {
			var docs []string
			for fname, f := range p.Files {
				if f.Doc != nil {
					docs = append(docs, filepath.Base(fname))
					text := f.Doc.Text()
					if !strings.HasPrefix(text, "Package "+name+" ") && !strings.HasPrefix(text, "Command ") {
						t.Errorf("%s: package doc in %s should start %q", dir, filepath.Base(fname), "Package "+name)
					}
				}
			}
			if len(docs) != 1 {
				t.Errorf("%s: package %s has %d files with a package doc %v, want exactly 1", dir, name, len(docs), docs)
			}
		}
	}
}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// TestEngineDeps keeps the engine free of the service: no net/http,
// database/sql or internal/ anywhere in its dependency graph.
func TestEngineDeps(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "./engine/...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Deps {
			if d == "net/http" || d == "database/sql" || strings.Contains(d, "/strata/internal/") {
				t.Errorf("%s depends on %s; the engine must not", p.ImportPath, d)
			}
		}
	}
}
