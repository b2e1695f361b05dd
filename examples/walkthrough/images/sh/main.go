// Command sh is the /bin/sh of the walkthrough's stand-in agent image. It knows the one
// command the article's liveness probe runs, `sh -c "netstat -tan | grep ESTABLISHED"`: it
// succeeds while the container has an established TCP connection (read from /proc/net/tcp*).
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "-c" {
		fmt.Fprintln(os.Stderr, "sh: only `sh -c COMMAND` is supported")
		os.Exit(2)
	}
	cmd := os.Args[2]
	if !strings.Contains(cmd, "netstat") || !strings.Contains(cmd, "ESTABLISHED") {
		fmt.Fprintf(os.Stderr, "sh: %s: command not found\n", cmd)
		os.Exit(127)
	}
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		n += established(f)
	}
	if n == 0 {
		os.Exit(1)
	}
	fmt.Printf("%d ESTABLISHED\n", n)
}

// established counts the connections in state 01 (TCP_ESTABLISHED) of a /proc/net/tcp file.
func established(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && fields[3] == "01" {
			n++
		}
	}
	return n
}
