package harness

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary act as a child: it prints a banner, its address line, then
// waits for its standard input to close; with "fail", it writes an error and exits instead.
const childEnv = "HARNESS_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "serve":
		os.Stdout.WriteString("a library's banner\n")
		os.Stderr.WriteString("a library's log line\n")
		ServeUntilParentGoes("127.0.0.1:9")
		os.Exit(0)
	case "fail":
		os.Stderr.WriteString("bind: address already in use\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestServerChild(t *testing.T) {
	t.Setenv(childEnv, "serve")
	c, addr, err := StartServer("-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1:9" {
		t.Fatalf("address %q", addr)
	}
	if ProcessCPU(c.Pid()) < 0 {
		t.Fatal("negative CPU time")
	}
	if rss, err := RSS(c.Pid()); err != nil || rss <= 0 {
		t.Fatalf("RSS %d, %v", rss, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("the child did not end cleanly when its input closed: %v", err)
	}
	// The child's standard error is copied by a goroutine of exec's, so what it wrote is
	// certain to be there only once Stop has waited for the child.
	if logged := c.Errors(); !strings.Contains(logged, "a library's log line") {
		t.Fatalf("the serving child's errors: %q", logged)
	}
}

func TestFailingChildShowsItsErrors(t *testing.T) {
	t.Setenv(childEnv, "fail")
	_, _, err := StartServer("-test.run=^$")
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %v does not carry the child's stderr", err)
	}
}

func TestSpread(t *testing.T) {
	xs := []float64{5, 1, 4, 2}
	s := SpreadOf(xs)
	if s.Median != 3 || s.Min != 1 || s.Max != 5 || s.N != 4 {
		t.Fatalf("%+v", s)
	}
	if xs[0] != 5 {
		t.Fatal("SpreadOf reordered its input")
	}
	if Median([]float64{7, 1, 3}) != 3 || Median(nil) != 0 {
		t.Fatal("odd-count or empty median")
	}
}

func TestIntervalOf(t *testing.T) {
	var xs []float64
	for i := 100; i >= 1; i-- {
		xs = append(xs, float64(i))
	}
	// The 95 % interval of a median of 100: the 40th and 61st values (binomial tables).
	if got := IntervalOf(xs); got != (Interval{Median: 50.5, Lo: 40, Hi: 61, N: 100}) {
		t.Fatalf("%+v", got)
	}
	if xs[0] != 100 {
		t.Fatal("IntervalOf reordered its input")
	}
	// Seven values are too few to exclude any: the interval is their range.
	if got := IntervalOf([]float64{3, 1, 2, 7, 5, 4, 6}); got != (Interval{Median: 4, Lo: 1, Hi: 7, N: 7}) {
		t.Fatalf("%+v", got)
	}
	if IntervalOf(nil) != (Interval{}) {
		t.Fatal("empty")
	}
}

func TestThisMachine(t *testing.T) {
	m := ThisMachine(map[string]string{"no-such-tool-here": "--version"})
	if m.Cores <= 0 || !strings.HasPrefix(m.Kernel, "Linux ") || m.Go == "" || m.Date == "" {
		t.Fatalf("%+v", m)
	}
	if _, ok := m.Tools["no-such-tool-here"]; ok {
		t.Fatal("a missing tool was listed")
	}
}

// A child started on CPUs runs on those only, and the parent's own affinity is as it was.
func TestChildOnCPUs(t *testing.T) {
	srvCPUs, loadCPUs, ok := Split()
	if !ok {
		t.Skip("one CPU: nothing to split")
	}
	if len(srvCPUs) == 0 || len(loadCPUs) == 0 || srvCPUs[len(srvCPUs)-1] >= loadCPUs[0] {
		t.Fatalf("split %v / %v", srvCPUs, loadCPUs)
	}
	var before unix.CPUSet
	unix.SchedGetaffinity(0, &before)
	t.Setenv(childEnv, "serve")
	var c *Child
	if err := OnCPUs(loadCPUs, func() (err error) { c, _, err = StartServer("-test.run=^$"); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(c.Pid(), &got); err != nil {
		t.Fatal(err)
	}
	var want unix.CPUSet
	for _, cpu := range loadCPUs {
		want.Set(cpu)
	}
	if got != want {
		t.Fatalf("child on %v, want %v", got, want)
	}
	// The parent's threads: each must still have the set it had (the binding was undone).
	var after unix.CPUSet
	unix.SchedGetaffinity(0, &after)
	if after != before {
		t.Fatalf("the parent's affinity went from %v to %v", before, after)
	}
}
