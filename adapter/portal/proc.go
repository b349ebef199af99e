package portal

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// processTreeRSS sums VmRSS over root and all its descendants, from /proc.
// Shared pages are counted once per process (as VmRSS does), so the sum is an
// upper bound of what the tree really holds.
func processTreeRSS(root int) (int64, error) {
	children, err := childrenByParent()
	if err != nil {
		return 0, err
	}
	var total int64
	seen := map[int]bool{}
	queue := []int{root}
	found := false
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		kb, err := vmRSSKiB(pid)
		if err == nil {
			total += kb << 10
			if pid == root {
				found = true
			}
		}
		queue = append(queue, children[pid]...)
	}
	if !found {
		return 0, fmt.Errorf("portal: process %d not found in /proc", root)
	}
	return total, nil
}

// childrenByParent maps every parent pid to its children, from /proc/*/stat.
func childrenByParent() (map[int][]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// The command name (field 2) may hold spaces and parentheses: the
		// fields after it start behind the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		out[ppid] = append(out[ppid], pid)
	}
	return out, nil
}

// vmRSSKiB reads VmRSS (KiB) from /proc/<pid>/status.
func vmRSSKiB(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("portal: no VmRSS for process %d", pid)
}
