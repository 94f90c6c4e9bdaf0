package local

import (
	"bufio"
	"bytes"
	bin "encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ErrAddressInUse is wrapped when something that is not the node already
// listens on a node's health check address.
var ErrAddressInUse = errors.New("address already in use")

// AddressInUseError says who listens on a node's health check address.
// A health check there would be answered by that process, not by the
// node, so the launch is refused.
type AddressInUseError struct {
	NodeID string
	Addr   string // IP:PORT the health check probes
	Holder string // e.g. "process 1234 (cloud-compose __demo-service --addr …) on 0.0.0.0:8080"
}

func (e *AddressInUseError) Error() string {
	return fmt.Sprintf("%s (node %s's health check address) is already in use by %s; health checks would reach it instead of the node. Stop it, or give node %s another ip (or the cluster another health.port)",
		e.Addr, e.NodeID, e.Holder, e.NodeID)
}

func (e *AddressInUseError) Is(target error) bool { return target == ErrAddressInUse }

// checkHealthAddr fails when a process already listens on the node's IP
// and the cluster's health port, or on the wildcard address (0.0.0.0 or
// [::]) at that port. Only launches on which no live record holds the IP
// get here, so such a listener is never this node's.
func (p *localProvider) checkHealthAddr(nodeID, ip string) error {
	if p.cfg.Health == nil || p.cfg.Health.Port <= 0 || p.cfg.Health.Port > 65535 {
		return nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil // checkIP reports it
	}
	ls, err := tcpListeners(a, p.cfg.Health.Port)
	if err != nil || len(ls) == 0 {
		return err
	}
	holders := make([]string, len(ls))
	for i, l := range ls {
		holders[i] = l.String()
	}
	return &AddressInUseError{NodeID: nodeID, Addr: netip.AddrPortFrom(a, uint16(p.cfg.Health.Port)).String(),
		Holder: strings.Join(holders, "; ")}
}

// listener is a listening TCP socket and, when it can be found, the
// process that holds it.
type listener struct {
	Addr    netip.AddrPort
	Inode   uint64
	UID     int
	PID     int    // 0 when no readable process holds it (another user's)
	Command string // its command line, shortened
}

func (l listener) String() string {
	if l.PID == 0 {
		return fmt.Sprintf("a process of uid %d (not readable by this user) listening on %s", l.UID, l.Addr)
	}
	return fmt.Sprintf("process %d (%s) listening on %s", l.PID, l.Command, l.Addr)
}

// maxCommand bounds how much of a holder's command line a message shows.
const maxCommand = 160

// tcpListeners returns the sockets listening on ip:port or on the
// wildcard address at port (IPv4 and IPv6, including IPv4-mapped
// addresses), from /proc/net/tcp and tcp6, with the processes holding them
// (found by the socket's inode among /proc/*/fd).
func tcpListeners(ip netip.Addr, port int) ([]listener, error) {
	var found []listener
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		ls, err := readListeners(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6
		}
		if err != nil {
			return nil, fmt.Errorf("look for listeners on %s:%d: %w", ip, port, err)
		}
		for _, l := range ls {
			a := l.Addr.Addr().Unmap()
			if int(l.Addr.Port()) == port && (a == ip || a.IsUnspecified()) {
				found = append(found, l)
			}
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	inodes := map[uint64]*listener{}
	for i := range found {
		inodes[found[i].Inode] = &found[i]
	}
	socketOwners(inodes)
	return found, nil
}

// readListeners parses the listening sockets of a /proc/net/tcp{,6} file.
func readListeners(path string) ([]listener, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []listener
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		ap, err := parseProcAddr(fs[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		uid, _ := strconv.Atoi(fs[7])
		inode, _ := strconv.ParseUint(fs[9], 10, 64)
		out = append(out, listener{Addr: ap, Inode: inode, UID: uid})
	}
	return out, sc.Err()
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or 32 hex digits and a
// port (IPv6): the address is printed as 32-bit words in host byte order,
// the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(h)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad socket port %q", s)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		bin.NativeEndian.PutUint32(b[i:], bin.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// socketOwners fills in the process holding each socket inode: the first
// process with a file descriptor "socket:[INODE]". Processes of other
// users are not readable and are skipped.
func socketOwners(inodes map[uint64]*listener) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	left := len(inodes)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(dir + fd.Name())
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			if l, ok := inodes[ino]; ok && l.PID == 0 {
				l.PID, l.Command = pid, commandLine(pid)
				if left--; left == 0 {
					return
				}
			}
		}
	}
}

// commandLine returns process pid's command line, arguments separated by
// spaces, shortened to maxCommand bytes.
func commandLine(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
			return strings.TrimSpace(string(comm))
		}
		return "?"
	}
	s := string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
	if len(s) > maxCommand {
		s = strings.ToValidUTF8(s[:maxCommand], "") + "…"
	}
	return s
}
