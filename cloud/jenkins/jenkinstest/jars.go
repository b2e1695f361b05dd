package jenkinstest

import (
	"archive/zip"
	"bytes"
	"net/http"
	"sync"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

var (
	jarOnce  sync.Once
	jarBytes []byte
)

// AgentJar is the body of the fake's /jnlpJars/agent.jar (and remoting.jar):
// a small zip whose META-INF/MANIFEST.MF, stored uncompressed, names
// hudson.remoting.jnlp.Main and holds agentproto.JarMarker. Same bytes on
// every call and every run.
func AgentJar() []byte {
	jarOnce.Do(func() {
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		h := &zip.FileHeader{Name: "META-INF/MANIFEST.MF", Method: zip.Store,
			Modified: time.Date(2022, 11, 15, 0, 0, 0, 0, time.UTC)}
		f, _ := z.CreateHeader(h)
		_, _ = f.Write([]byte("Manifest-Version: 1.0\r\nMain-Class: hudson.remoting.jnlp.Main\r\n" +
			"Version: " + agentproto.RemotingVersion + "\r\n" + agentproto.JarMarker + "\r\n\r\n"))
		_ = z.Close()
		jarBytes = b.Bytes()
	})
	return jarBytes
}

// jar answers GET /jnlpJars/agent.jar and remoting.jar (anonymous downloads
// work on a real Jenkins too).
func (s *Server) jar(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("jar") {
	case "agent.jar", "remoting.jar", "slave.jar":
	default:
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", "application/java-archive")
	_, _ = w.Write(AgentJar())
}
