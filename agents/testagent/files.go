package testagent

import (
	"os"
	"path/filepath"
	"strings"
)

// fileCommand runs the interpreter's few file commands (see interpret): echo
// with an optional > or >> redirection, cat, test -f/-e/-d and mkdir -p. It
// returns the exit status sh would.
func fileCommand(words []string, dir string, logLine func(string)) int {
	path := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	switch words[0] {
	case "echo":
		args, target, flags := words[1:], "", os.O_WRONLY|os.O_CREATE|os.O_TRUNC
		if n := len(args); n >= 2 && (args[n-2] == ">" || args[n-2] == ">>") {
			if args[n-2] == ">>" {
				flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
			}
			args, target = args[:n-2], args[n-1]
		}
		text := strings.Join(args, " ")
		if target == "" {
			logLine(text)
			return 0
		}
		f, err := os.OpenFile(path(target), flags, 0o644)
		if err != nil {
			logLine("sh: 1: cannot create " + target + ": " + err.Error())
			return 2
		}
		_, err = f.WriteString(text + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			logLine("sh: 1: " + target + ": " + err.Error())
			return 1
		}
	case "cat":
		for _, p := range words[1:] {
			b, err := os.ReadFile(path(p))
			if err != nil {
				logLine("cat: " + p + ": No such file or directory")
				return 1
			}
			for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				logLine(line)
			}
		}
	case "test":
		if len(words) != 3 {
			return 2
		}
		fi, err := os.Stat(path(words[2]))
		switch {
		case err != nil:
			return 1
		case words[1] == "-f" && !fi.Mode().IsRegular(), words[1] == "-d" && !fi.IsDir():
			return 1
		case words[1] != "-f" && words[1] != "-d" && words[1] != "-e":
			return 2
		}
	case "mkdir":
		for _, p := range words[1:] {
			if p == "-p" {
				continue
			}
			if err := os.MkdirAll(path(p), 0o755); err != nil {
				logLine("mkdir: cannot create directory '" + p + "': " + err.Error())
				return 1
			}
		}
	}
	return 0
}
