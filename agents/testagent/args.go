package testagent

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseArgs reads the agent's configuration the way the program was invoked
// (argv0's base name) and from getenv:
//
//   - "java": `java [JVM options] -jar agent.jar -jnlpUrl URL/computer/N/jenkins-agent.jnlp
//     -secret S|@file [-workDir D] [-internalDir X] [-noReconnect]`, or
//     `java [JVM options] -cp agent.jar hudson.remoting.jnlp.Main -headless -url URL
//     [-tunnel H:P] [-webSocket] [-workDir D] [-noReconnect] SECRET NAME`, or
//     `java -jar swarm-client.jar SWARM-FLAGS`. The jar must exist and hold
//     agentproto.JarMarker (the fake controller's /jnlpJars/agent.jar).
//   - "swarm-client": SWARM-FLAGS (see parseSwarm).
//   - anything else: the jenkins/inbound-agent entrypoint: JENKINS_URL,
//     JENKINS_SECRET (or @file), JENKINS_AGENT_NAME, JENKINS_AGENT_WORKDIR,
//     JENKINS_TUNNEL, JENKINS_WEB_SOCKET=true, JENKINS_DIRECT_CONNECTION,
//     overridden by `[-url URL] [-tunnel H:P] [-workDir D] [-webSocket]
//     [-direct H:P] [-noReconnect] [SECRET NAME]`.
//
// -webSocket with -tunnel or -direct (JENKINS_WEB_SOCKET with JENKINS_TUNNEL
// or JENKINS_DIRECT_CONNECTION) is an *OptionConflict, as in remoting.
func ParseArgs(argv0 string, args []string, getenv func(string) string) (Config, error) {
	switch strings.TrimSuffix(filepath.Base(argv0), ".exe") {
	case "java":
		return parseJava(args, getenv)
	case "swarm-client":
		return parseSwarm(args, getenv)
	}
	return parseEntrypoint(args, getenv)
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseEntrypoint(args []string, getenv func(string) string) (Config, error) {
	c := Config{URL: getenv("JENKINS_URL"), Secret: getenv("JENKINS_SECRET"), Name: getenv("JENKINS_AGENT_NAME"),
		WorkDir: getenv("JENKINS_AGENT_WORKDIR"), Tunnel: getenv("JENKINS_TUNNEL"),
		DirectConnection: getenv("JENKINS_DIRECT_CONNECTION")}
	if c.Name == "" {
		c.Name = getenv("JENKINS_NAME")
	}
	c.WebSocket, _ = strconv.ParseBool(getenv("JENKINS_WEB_SOCKET"))
	fs := newFlags("jenkins-agent")
	fs.StringVar(&c.URL, "url", c.URL, "Jenkins URL")
	fs.StringVar(&c.Tunnel, "tunnel", c.Tunnel, "HOST:PORT of the agent port")
	fs.StringVar(&c.WorkDir, "workDir", c.WorkDir, "work directory")
	fs.BoolVar(&c.WebSocket, "webSocket", c.WebSocket, "connect with a WebSocket")
	fs.StringVar(&c.DirectConnection, "direct", c.DirectConnection, "HOST:PORT of the agent port, no HTTP")
	fs.BoolVar(&c.NoReconnect, "noReconnect", false, "exit when the connection drops")
	fs.String("internalDir", "remoting", "ignored")
	fs.String("instanceIdentity", "", "ignored")
	fs.String("protocols", "", "ignored")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch rest := fs.Args(); len(rest) {
	case 0:
	case 2:
		c.Secret, c.Name = rest[0], rest[1]
	case 1:
		c.Secret = rest[0]
	default:
		return c, fmt.Errorf("too many arguments: %q (want [SECRET NAME])", rest)
	}
	if c.WorkDir == "" {
		c.WorkDir = "/home/jenkins/agent"
	}
	if err := c.checkWebSocket(); err != nil {
		return c, err
	}
	return c, c.finish()
}

// OptionConflict is remoting's refusal of -webSocket together with -tunnel
// or -direct (args4j "forbids"): hudson.remoting.jnlp.Main prints Message
// and its usage to stderr and returns, so the process exits with status 0.
type OptionConflict struct{ Message string }

func (e *OptionConflict) Error() string { return e.Message }

// webSocketConflict is the message of remoting 3071 (DESIGN §7).
const webSocketConflict = `Option "-webSocket" cannot be used with the option(s) [-direct, -tunnel]`

// checkWebSocket refuses a WebSocket agent with a tunnel or a direct
// connection, as remoting does.
func (c *Config) checkWebSocket() error {
	if c.WebSocket && (c.Tunnel != "" || c.DirectConnection != "") {
		return &OptionConflict{Message: webSocketConflict}
	}
	return nil
}

// readSecretFile replaces a secret "@FILE" by FILE's content.
func (c *Config) readSecretFile() error {
	if f, ok := strings.CutPrefix(c.Secret, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("secret file: %w", err)
		}
		c.Secret = strings.TrimSpace(string(b))
	}
	return nil
}

// finish resolves an @file secret and checks the required fields.
func (c *Config) finish() error {
	if err := c.readSecretFile(); err != nil {
		return err
	}
	switch {
	case c.Swarm != nil:
		if c.URL == "" {
			return errors.New("-url is required")
		}
		return nil
	case c.URL == "" && c.DirectConnection == "":
		return errors.New("no Jenkins URL: set JENKINS_URL or -url")
	case c.Secret == "" || c.Name == "":
		return errors.New("no secret or agent name: set JENKINS_SECRET and JENKINS_AGENT_NAME, or pass SECRET NAME")
	}
	return nil
}

// parseJava accepts the java command lines of DESIGN §7.
func parseJava(args []string, getenv func(string) string) (Config, error) {
	var jar, mainClass string
	i := 0
loop:
	for i < len(args) {
		a := args[i]
		switch {
		case a == "-jar" || a == "-cp" || a == "-classpath" || a == "--class-path":
			if i+1 >= len(args) {
				return Config{}, fmt.Errorf("Error: %s requires jar file specification", a)
			}
			jar = args[i+1]
			i += 2
			if a == "-jar" {
				break loop
			}
		case strings.HasPrefix(a, "-"):
			i++ // JVM options: -Xmx256m, -Dx=y, ...
		default:
			mainClass = a
			i++
			break loop
		}
	}
	if jar == "" {
		return Config{}, errors.New("Usage: java [options] -jar <jarfile> [args...] | java [options] -cp <jar> <mainclass> [args...]")
	}
	rest := args[min(i, len(args)):]
	if strings.Contains(filepath.Base(jar), "swarm-client") {
		c, err := parseSwarm(rest, getenv)
		c.JarFile = "" // the swarm client jar is not the controller's agent.jar
		if _, statErr := os.Stat(jar); statErr != nil {
			return c, fmt.Errorf("Error: Unable to access jarfile %s", jar)
		}
		return c, err
	}
	var c Config
	var err error
	switch {
	case mainClass == "": // -jar agent.jar: hudson.remoting.Launcher
		c, err = parseLauncher(rest)
	case mainClass == "hudson.remoting.jnlp.Main":
		c, err = parseJnlpMain(rest)
	default:
		return Config{}, fmt.Errorf("Error: Could not find or load main class %s", mainClass)
	}
	c.JarFile = jar
	return c, err
}

// parseLauncher: agent.jar's own main (hudson.remoting.Launcher) with -jnlpUrl.
func parseLauncher(args []string) (Config, error) {
	var c Config
	fs := newFlags("agent.jar")
	fs.StringVar(&c.JNLPURL, "jnlpUrl", "", "URL of the jnlp file")
	fs.StringVar(&c.Secret, "secret", "", "secret or @file")
	fs.StringVar(&c.WorkDir, "workDir", "", "work directory")
	fs.StringVar(&c.Tunnel, "tunnel", "", "HOST:PORT of the agent port")
	fs.BoolVar(&c.NoReconnect, "noReconnect", false, "exit when the connection drops")
	fs.Bool("headless", false, "ignored")
	fs.String("internalDir", "remoting", "ignored")
	fs.String("jnlpCredentials", "", "ignored")
	if err := fs.Parse(args); err != nil {
		return c, errors.New(argsError(err))
	}
	if c.JNLPURL == "" {
		return c, errors.New("-jnlpUrl is required (the -url/-name form does not exist in remoting 3071)")
	}
	return c, c.readSecretFile() // URL, Name (and Secret if missing) come from the jnlp file
}

// argsError words a flag error as args4j does for an unknown option.
func argsError(err error) string {
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok {
		return fmt.Sprintf("%q is not a valid option", name)
	}
	return err.Error()
}

// parseJnlpMain: hudson.remoting.jnlp.Main's options, then SECRET NAME.
func parseJnlpMain(args []string) (Config, error) {
	var c Config
	fs := newFlags("hudson.remoting.jnlp.Main")
	fs.StringVar(&c.URL, "url", "", "Jenkins URL")
	fs.StringVar(&c.Tunnel, "tunnel", "", "HOST:PORT")
	fs.BoolVar(&c.WebSocket, "webSocket", false, "WebSocket")
	fs.StringVar(&c.WorkDir, "workDir", "", "work directory")
	fs.StringVar(&c.DirectConnection, "direct", "", "HOST:PORT")
	fs.BoolVar(&c.NoReconnect, "noReconnect", false, "exit when the connection drops")
	fs.Bool("headless", false, "ignored")
	fs.String("internalDir", "remoting", "ignored")
	fs.String("instanceIdentity", "", "ignored")
	fs.String("protocols", "", "ignored")
	if err := fs.Parse(args); err != nil {
		return c, errors.New(argsError(err))
	}
	rest := fs.Args()
	if len(rest) != 2 {
		return c, fmt.Errorf("two arguments required, but got %q (SECRET NAME)", rest)
	}
	c.Secret, c.Name = rest[0], rest[1]
	if err := c.checkWebSocket(); err != nil {
		return c, err
	}
	return c, c.finish()
}
