package docker

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// registry serves one image, name:tag, through the registry v2 API on 127.0.0.1 (which the
// engine treats as an insecure registry), so Pull can be tested without the internet.
func registry(t *testing.T, name, tag string) (ref string) {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	body := bytes.Repeat([]byte("drover "), 50000)
	tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	var layer bytes.Buffer
	gz := gzip.NewWriter(&layer)
	gz.Write(raw.Bytes())
	gz.Close()
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/data"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(raw.Bytes())}},
	})
	blobs := map[string][]byte{digest(config): config, digest(layer.Bytes()): layer.Bytes()}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        descriptor("application/vnd.docker.container.image.v1+json", config),
		"layers":        []any{descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", layer.Bytes())},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/v2/" || p == "/v2":
			w.WriteHeader(http.StatusOK)
		case p == "/v2/"+name+"/manifests/"+tag || p == "/v2/"+name+"/manifests/"+digest(manifest):
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", digest(manifest))
			w.Write(manifest)
		case strings.HasPrefix(p, "/v2/"+name+"/blobs/") && blobs[strings.TrimPrefix(p, "/v2/"+name+"/blobs/")] != nil:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(blobs[strings.TrimPrefix(p, "/v2/"+name+"/blobs/")])
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/" + name + ":" + tag
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func descriptor(mediaType string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "size": len(b), "digest": digest(b)}
}
