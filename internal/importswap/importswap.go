// Package importswap builds a Go program with one import path put back to another, without
// touching its files (go build -overlay): how the tests and the benchmark run a program that
// imports a uringnet package as the gnet original it was made from, whose only difference is
// that import.
package importswap

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Build compiles the main package in dir into out with every file's import of from replaced by
// to. It fails when no file imports from, so a renamed package cannot make it build the
// original unchanged.
func Build(dir, out, from, to string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "importswap")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	replace := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		swapped := strings.ReplaceAll(string(src), strconv.Quote(from), strconv.Quote(to))
		if swapped == string(src) {
			continue
		}
		alt := filepath.Join(tmp, filepath.Base(f))
		if err := os.WriteFile(alt, []byte(swapped), 0o644); err != nil {
			return err
		}
		replace[f] = alt
	}
	if len(replace) == 0 {
		return fmt.Errorf("importswap: no file in %s imports %q", dir, from)
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return err
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-overlay", overlayFile, "-o", out, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("importswap: go build %s with %q for %q: %v\n%s", dir, to, from, err, b)
	}
	return nil
}
