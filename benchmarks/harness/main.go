package harness

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Main is a benchmark command's entry point: "name mode [flags]" runs modes[mode] with the
// flags. It exits 2 on bad usage and 1 when the mode fails.
func Main(name string, modes map[string]func(args []string) error) {
	var names []string
	for m := range modes {
		names = append(names, m)
	}
	sort.Strings(names)
	usage := fmt.Sprintf("usage: %s %s [flags]", name, strings.Join(names, "|"))
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	mode, ok := modes[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown mode %q\n%s\n", name, os.Args[1], usage)
		os.Exit(2)
	}
	if err := mode(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", name, os.Args[1], err)
		os.Exit(1)
	}
}
