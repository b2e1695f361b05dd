package jenkinstest

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// jnlp answers /computer/N/jenkins-agent.jnlp (and slave-agent.jnlp) as
// Jenkins 2.376 does: the secret, then the node name, then the options.
func (s *Server) jnlp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	n, ok := s.nodes[name]
	var snap Node
	if ok {
		snap = n.Node
	}
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	args := []string{s.Secret(name), name, "-workDir", snap.RemoteFS, "-internalDir", "remoting"}
	if snap.WebSocket {
		args = append(args, "-webSocket")
	}
	root := s.rootURL(r)
	args = append(args, "-url", root+"/")
	var b strings.Builder
	b.WriteString(`<jnlp codebase="` + esc(root+"/computer/"+name+"/") + `" spec="1.0+">`)
	b.WriteString(`<information><title>Agent for ` + esc(name) + `</title><vendor>Jenkins project</vendor>`)
	b.WriteString(`<homepage href="https://jenkins-ci.org/"/></information><security><all-permissions/></security>`)
	b.WriteString(`<resources><j2se version="1.8+"/><jar href="` + esc(root) + `/jnlpJars/remoting.jar"/></resources>`)
	b.WriteString(`<application-desc main-class="hudson.remoting.jnlp.Main">`)
	for _, a := range args {
		b.WriteString("<argument>" + esc(a) + "</argument>")
	}
	b.WriteString("</application-desc></jnlp>")
	w.Header().Set("Content-Type", "application/x-java-jnlp-file")
	_, _ = w.Write([]byte(b.String()))
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
