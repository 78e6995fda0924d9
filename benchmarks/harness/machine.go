package harness

import (
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Machine describes what figures were measured on.
type Machine struct {
	CPU    string            `json:"cpu"`
	Cores  int               `json:"cores"`
	Kernel string            `json:"kernel"`
	Go     string            `json:"go"`
	Date   string            `json:"date"`
	Tools  map[string]string `json:"tools,omitempty"` // external load generators and their versions
}

// ThisMachine describes the running machine and the versions of the tools named (each run
// with the given version flag; a tool that is not installed is left out).
func ThisMachine(tools map[string]string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Kernel: KernelRelease(), Go: runtime.Version(),
		Date: time.Now().UTC().Format(time.RFC3339), Tools: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`model name\s*:\s*(.*)`).FindSubmatch(b); mm != nil {
			m.CPU = strings.TrimSpace(string(mm[1]))
		}
	}
	for tool, flag := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		out, _ := exec.Command(tool, flag).CombinedOutput()
		m.Tools[tool] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return m
}

// KernelRelease names the running kernel.
func KernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}
