//go:build !poll_opt

package netpoll_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// gnet's pkg/netpoll example_test.go, as gnet ships it, compiles against this package with its
// import changed: every name it uses is here, with the types it expects. (It runs until a
// signal and checks no output, so go test only compiles it, on gnet as here; Example in
// example_test.go is the same program made to end, and run.) The file is added to this
// package by an overlay, its Example renamed so as not to clash with ours.
func TestGnetExampleCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/panjf2000/gnet/v2").Output()
	if err != nil {
		t.Fatalf("find gnet's module: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg", "netpoll", "example_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	const from, to = `"github.com/panjf2000/gnet/v2/pkg/netpoll"`, `"github.com/uringnet/uringnet/compat/netpoll"`
	swapped := strings.Replace(string(src), from, to, 1)
	swapped = strings.Replace(swapped, "func Example() {", "func Example_gnet() {", 1)
	if swapped == string(src) || strings.Count(swapped, to) != 1 || !strings.Contains(swapped, "Example_gnet") {
		t.Fatal("gnet's example no longer imports its netpoll or has an Example")
	}
	tmp := t.TempDir()
	file := filepath.Join(tmp, "gnet_example_test.go")
	if err := os.WriteFile(file, []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	_, self, _, _ := runtime.Caller(0)
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(filepath.Dir(self), "zz_gnet_example_test.go"): file,
	}})
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "vet", "-overlay", overlayFile, ".")
	cmd.Dir = filepath.Dir(self)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gnet's example against compat/netpoll: %v\n%s", err, b)
	}
}
