package app

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/boltstore"
	"github.com/drover-ci/drover/cluster/store/consulstore"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// openStore opens the store a DSN names: bolt://PATH (default DIR/state.db), consul://HOST:PORT/PREFIX
// (ACL token, TLS and datacenter from the CONSUL_HTTP_* environment) or memory://. Consul's
// watch loop, bolt's compactions and slow commits log to log.
func openStore(dsn, dataDir, consulDatacenter string, log *slog.Logger) (store.Store, error) {
	if dsn == "" {
		dsn = "bolt://" + filepath.Join(dataDir, "state.db")
	}
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil, fmt.Errorf("--store %q: want bolt://PATH, consul://HOST:PORT/PREFIX or memory://", dsn)
	}
	switch scheme {
	case "memory":
		return memstore.New(), nil
	case "bolt":
		if rest == "" {
			return nil, fmt.Errorf("--store %q: bolt:// needs a file path", dsn)
		}
		if err := os.MkdirAll(filepath.Dir(rest), 0o700); err != nil {
			return nil, fmt.Errorf("--store %q: %w", dsn, err)
		}
		return boltstore.OpenWithOptions(rest, boltstore.Options{Logger: log})
	case "consul":
		u, err := url.Parse("consul://" + rest)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--store %q: want consul://HOST:PORT/PREFIX", dsn)
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix == "" {
			prefix = "drover"
		}
		cfg := consulstore.ConfigFromEnv(u.Host, prefix+"/")
		if consulDatacenter != "" {
			cfg.Datacenter = consulDatacenter
		}
		cfg.Logger = log
		return consulstore.New(cfg)
	}
	return nil, fmt.Errorf("--store %q: unknown scheme %q (want bolt, consul or memory)", dsn, scheme)
}

// watchCacheFor is the API server's watch cache configuration for a --store DSN: on Consul,
// whose revisions the cache cannot tell it has caught up with, consistent reads go to the store.
func watchCacheFor(dsn string) apiserver.WatchCache {
	scheme, _, _ := strings.Cut(dsn, "://")
	return apiserver.WatchCache{ConsistentReadsFromStore: scheme == "consul"}
}
