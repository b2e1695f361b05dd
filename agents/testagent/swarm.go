package testagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// SwarmConfig is a swarm-client's registration (Config.Swarm).
type SwarmConfig struct {
	Name            string // default: the host name
	Description     string
	Executors       int
	Labels          string // space-separated
	FSRoot          string
	Mode            string // normal or exclusive
	Username        string
	Password        string // password or API token
	DisableUniqueID bool   // -disableClientsUniqueId: no -HASH suffix
	DeleteExisting  bool
}

// parseSwarm accepts the swarm-client's flags (3.x, loosely): -url,
// -name, -description, -executors, -labels, -fsroot, -mode, -username,
// -password, -passwordEnvVariable, -passwordFile, -webSocket, -tunnel,
// -disableClientsUniqueId, -deleteExistingClients, -retry, -noRetryAfterConnected,
// -workDir, -internalDir, -disableWorkDir, -failIfWorkDirIsMissing.
func parseSwarm(args []string, getenv func(string) string) (Config, error) {
	var c Config
	sw := &SwarmConfig{}
	var passEnv, passFile string
	var retry int
	var noRetryAfter bool
	fs := newFlags("swarm-client")
	fs.StringVar(&c.URL, "url", "", "Jenkins URL")
	fs.StringVar(&c.URL, "master", "", "Jenkins URL (old name)")
	fs.StringVar(&sw.Name, "name", "", "agent name")
	fs.StringVar(&sw.Description, "description", "", "description")
	fs.IntVar(&sw.Executors, "executors", 1, "executors")
	fs.StringVar(&sw.Labels, "labels", "", "labels")
	fs.StringVar(&sw.FSRoot, "fsroot", "", "remote FS root")
	fs.StringVar(&sw.Mode, "mode", "normal", "normal or exclusive")
	fs.StringVar(&sw.Username, "username", "", "user")
	fs.StringVar(&sw.Password, "password", "", "password or API token")
	fs.StringVar(&passEnv, "passwordEnvVariable", "", "env var holding the password")
	fs.StringVar(&passFile, "passwordFile", "", "file holding the password")
	fs.BoolVar(&c.WebSocket, "webSocket", false, "WebSocket")
	fs.StringVar(&c.Tunnel, "tunnel", "", "HOST:PORT")
	fs.BoolVar(&sw.DisableUniqueID, "disableClientsUniqueId", false, "no hash suffix")
	fs.BoolVar(&sw.DeleteExisting, "deleteExistingClients", false, "replace a node of the same name")
	fs.IntVar(&retry, "retry", -1, "connection attempts")
	fs.BoolVar(&noRetryAfter, "noRetryAfterConnected", false, "exit when the connection drops")
	fs.StringVar(&c.WorkDir, "workDir", "", "work directory")
	fs.String("internalDir", "remoting", "ignored")
	fs.Bool("disableWorkDir", false, "ignored")
	fs.Bool("failIfWorkDirIsMissing", false, "ignored")
	fs.Bool("disableSslVerification", false, "ignored")
	if err := fs.Parse(args); err != nil {
		return c, errors.New(argsError(err))
	}
	if len(fs.Args()) > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if passEnv != "" {
		sw.Password = getenv(passEnv)
	}
	if passFile != "" {
		b, err := os.ReadFile(passFile)
		if err != nil {
			return c, fmt.Errorf("password file: %w", err)
		}
		sw.Password = strings.TrimSpace(string(b))
	}
	if sw.Name == "" {
		sw.Name, _ = os.Hostname()
	}
	if sw.FSRoot == "" {
		sw.FSRoot, _ = os.Getwd()
	}
	if c.WorkDir == "" {
		c.WorkDir = sw.FSRoot
	}
	c.NoReconnect = noRetryAfter
	c.Swarm = sw
	return c, c.finish()
}

// register creates the swarm node (POST /plugin/swarm/createSlave) and
// reads its final name and secret (/computer/N/slave-agent.jnlp).
func (a *agent) registerSwarm(ctx context.Context) error {
	sw := a.cfg.Swarm
	q := url.Values{"name": {sw.Name}, "executors": {strconv.Itoa(max(sw.Executors, 1))},
		"remoteFsRoot": {sw.FSRoot}, "labels": {sw.Labels}, "mode": {strings.ToUpper(sw.Mode)},
		"description": {sw.Description}, "deleteExistingClients": {strconv.FormatBool(sw.DeleteExisting)}}
	if !sw.DisableUniqueID {
		h := sha256.Sum256([]byte(sw.Name + "\x00" + sw.FSRoot))
		q.Set("hash", hex.EncodeToString(h[:4]))
	}
	body, err := a.swarmRequest(ctx, http.MethodPost, "/plugin/swarm/createSlave?"+q.Encode())
	if err != nil {
		return err
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "name="); ok {
			a.cfg.Name = v
		}
	}
	if a.cfg.Name == "" {
		return &rejected{fmt.Errorf("createSlave answered no name: %q", body)}
	}
	jnlp, err := a.swarmRequest(ctx, http.MethodGet, "/computer/"+url.PathEscape(a.cfg.Name)+"/slave-agent.jnlp")
	if err != nil {
		return err
	}
	args := jnlpArguments(jnlp)
	if len(args) < 2 {
		return &rejected{fmt.Errorf("no secret in the jnlp file of %s", a.cfg.Name)}
	}
	a.cfg.Secret = args[0]
	a.logf("registered with the swarm plugin as %s", a.cfg.Name)
	return nil
}

func (a *agent) swarmRequest(ctx context.Context, method, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.cfg.URL, "/")+path, nil)
	if err != nil {
		return "", &rejected{err}
	}
	if sw := a.cfg.Swarm; sw.Username != "" {
		req.SetBasicAuth(sw.Username, sw.Password)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 500:
		return "", fmt.Errorf("%s %s: %s", method, path, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", &rejected{fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))}
	}
	return string(b), nil
}
