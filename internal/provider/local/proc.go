package local

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat is what the local provider reads of /proc/PID/stat.
type procStat struct {
	PID   int
	State byte
	PPID  int
	PGID  int
	Start uint64
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// comm is in parentheses and may contain spaces or parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); starttime is field 22, f[19].
	if len(f) < 20 {
		return procStat{}, false
	}
	st := procStat{PID: pid, State: f[0][0]}
	st.PPID, _ = strconv.Atoi(f[1])
	st.PGID, _ = strconv.Atoi(f[2])
	st.Start, _ = strconv.ParseUint(f[19], 10, 64)
	return st, true
}

// self returns this process's procRef.
func self() procRef {
	st, _ := readStat(os.Getpid())
	return procRef{PID: os.Getpid(), Start: st.Start}
}

// alive reports whether the process still runs (not a zombie, same start
// time as recorded).
func (p procRef) alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, ok := readStat(p.PID)
	return ok && st.Start == p.Start && st.State != 'Z' && st.State != 'X'
}

// allProcesses lists the live (non-zombie) processes.
func allProcesses() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.State != 'Z' && st.State != 'X' {
			out = append(out, st)
		}
	}
	return out
}

// hasEnv reports whether process pid's environment holds kv ("K=V").
// Processes of other users are unreadable and never match.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}

// nodeProcesses returns every live process that belongs to instance rec:
// members of the boot script's process group, descendants of its
// supervisor (which is their subreaper), and any process still carrying
// the instance's INSTANCE_ID in its environment (so even a daemon that
// left the group and outlived a dead supervisor is found). The calling
// process is never included.
func nodeProcesses(rec *instanceRecord) []int {
	procs := allProcesses()
	me := os.Getpid()
	children := map[int][]int{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	set := map[int]bool{}
	if rec.Supervisor.alive() {
		stack := append([]int(nil), children[rec.Supervisor.PID]...)
		for len(stack) > 0 {
			pid := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			set[pid] = true
			stack = append(stack, children[pid]...)
		}
	}
	marker := envInstanceID + "=" + rec.ID
	for _, p := range procs {
		if p.PID == me || p.PID == rec.Supervisor.PID || p.PID == rec.Reaper.PID {
			continue
		}
		if (rec.BootPGID > 0 && p.PGID == rec.BootPGID) || hasEnv(p.PID, marker) {
			set[p.PID] = true
		}
	}
	delete(set, me)
	out := make([]int, 0, len(set))
	for pid := range set {
		out = append(out, pid)
	}
	return out
}

// stopProcesses sends SIGTERM to every process of the instance (and its
// boot process group), waits up to grace for them to exit, then SIGKILLs
// what is left and waits for it to go. It returns how many processes had to
// be killed.
func stopProcesses(ctx context.Context, rec *instanceRecord, grace time.Duration) int {
	signalAll := func(sig syscall.Signal) int {
		pids := nodeProcesses(rec)
		if rec.BootPGID > 0 {
			_ = syscall.Kill(-rec.BootPGID, sig)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig)
		}
		return len(pids)
	}
	if signalAll(syscall.SIGTERM) == 0 {
		return 0
	}
	deadline := time.Now().Add(grace)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			deadline = time.Now() // no more waiting: kill now
		case <-tick.C:
		}
		if len(nodeProcesses(rec)) == 0 {
			return 0
		}
	}
	killed := 0
	for range 100 { // up to 5 s for the kernel to take them down
		n := signalAll(syscall.SIGKILL)
		if n == 0 {
			break
		}
		if killed == 0 {
			killed = n
		}
		time.Sleep(50 * time.Millisecond)
	}
	return killed
}

// supervisorStarting reports whether a supervisor process for instance id
// runs (`cloud-compose __local-supervisor --store DIR --instance ID`, not
// a reaper), found by its command line: between its start and its claim of
// the record, that is the only trace of it.
func supervisorStarting(id string) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(id)) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if isSupervisorOf(args, id) {
			if st, ok := readStat(pid); ok && st.State != 'Z' && st.State != 'X' {
				return true
			}
		}
	}
	return false
}

// isSupervisorOf reports whether args are a supervisor's for instance id.
func isSupervisorOf(args []string, id string) bool {
	if len(args) < 2 || args[1] != SupervisorCommand {
		return false
	}
	found := false
	for i, a := range args[2:] {
		switch {
		case a == "--reap" || a == "-reap" || strings.HasPrefix(a, "--reap=") || strings.HasPrefix(a, "-reap="):
			return false
		case (a == "--instance" || a == "-instance") && i+3 < len(args) && args[i+3] == id:
			found = true
		case a == "--instance="+id || a == "-instance="+id:
			found = true
		}
	}
	return found
}
