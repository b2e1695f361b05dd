package app

import (
	"fmt"
	"io"
	"log"
	"log/slog"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// logOptions are the logging flags of the processes (drover server, up and node).
type logOptions struct {
	level  string
	format string
}

func (o *logOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.level, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.format, "log-format", "text", "log format on stderr: text or json (every line of the process, client-go's too)")
}

// setup makes the process's one log handler, writing records of o.level and above to w as
// o.format. Every part of the process gets the returned logger; it is also slog's default
// (and so the log package's) and klog's backend (client-go's leader election, reflectors and
// warnings log through klog), so that each line the process prints has the same format.
// restore puts the previous defaults back, for Run called in-process.
func (o logOptions) setup(w io.Writer) (logger *slog.Logger, restore func(), err error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch o.format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", o.format)
	}
	logger = slog.New(h)
	prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(logger)
	klog.SetSlogLogger(logger)
	return logger, func() {
		klog.ClearLogger()
		slog.SetDefault(prev)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	}, nil
}
