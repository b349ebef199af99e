package portal

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is the memory of a browser's process tree.
type Memory struct {
	// Processes is the number of processes in the tree.
	Processes int
	// RSS sums VmRSS (/proc/<pid>/status) over the tree. Pages shared between
	// the processes (the Chromium binary, shared memory) count once per
	// process, so this overstates what the tree holds.
	RSS int64
	// PSS sums Pss (/proc/<pid>/smaps_rollup): shared pages divided among
	// the processes sharing them, the tree's fair share of memory.
	PSS int64
}

// processTree measures root and all its descendants, from /proc.
func processTree(root int) (Memory, error) {
	children, err := childrenByParent()
	if err != nil {
		return Memory{}, err
	}
	var m Memory
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
		kb, err := statusKiB(pid, "/status", "VmRSS:")
		if err == nil {
			m.Processes++
			m.RSS += kb << 10
			if pss, err := statusKiB(pid, "/smaps_rollup", "Pss:"); err == nil {
				m.PSS += pss << 10
			}
			if pid == root {
				found = true
			}
		}
		queue = append(queue, children[pid]...)
	}
	if !found {
		return Memory{}, fmt.Errorf("portal: process %d not found in /proc", root)
	}
	return m, nil
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

// statusKiB reads the KiB value of the line starting with field from
// /proc/<pid><file>.
func statusKiB(pid int, file, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("portal: no %s in /proc/%d%s", field, pid, file)
}
