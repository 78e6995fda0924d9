package report

import (
	"fmt"
	"os"
	"strings"
)

// The README's generated performance section lies between these lines.
const (
	BeginMarker = "<!-- bench:begin -->"
	EndMarker   = "<!-- bench:end -->"
)

// Splice replaces what lies between the markers in doc with section.
func Splice(doc, section string) (string, error) {
	begin := strings.Index(doc, BeginMarker)
	end := strings.Index(doc, EndMarker)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("report: no %s … %s lines to replace", BeginMarker, EndMarker)
	}
	return doc[:begin+len(BeginMarker)] + "\n" + section + doc[end:], nil
}

// SpliceFile rewrites the file at path with section between its markers.
func SpliceFile(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: read %s: %w", path, err)
	}
	doc, err := Splice(string(b), section)
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}
