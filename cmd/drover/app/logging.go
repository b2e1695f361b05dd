package app

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

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
	prevKlog := klogTo(h)
	return logger, func() {
		klogTo(prevKlog)
		slog.SetDefault(prev)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	}, nil
}

// klog's backend is a process global that is not safe to change while goroutines log through
// it (client-go's reflectors of a command that just returned may still be stopping). It is set
// once, to klogSink, and each command swaps the handler behind it atomically.
var (
	klogOnce    sync.Once
	klogHandler atomic.Pointer[slog.Handler]
)

// klogTo sends klog's output to h (nil: nowhere) and returns the handler it went to before.
func klogTo(h slog.Handler) (prev slog.Handler) {
	klogOnce.Do(func() { klog.SetSlogLogger(slog.New(swapHandler{})) })
	var p *slog.Handler
	if h != nil {
		p = &h
	}
	if old := klogHandler.Swap(p); old != nil {
		return *old
	}
	return nil
}

// swapHandler is klog's slog handler: it hands each record to the handler klogTo set last, with
// the attributes and groups klog added on the way (ops).
type swapHandler struct {
	ops []func(slog.Handler) slog.Handler
}

func (s swapHandler) current() slog.Handler {
	p := klogHandler.Load()
	if p == nil {
		return slog.DiscardHandler
	}
	h := *p
	for _, op := range s.ops {
		h = op(h)
	}
	return h
}

func (s swapHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return s.current().Enabled(ctx, l)
}

func (s swapHandler) Handle(ctx context.Context, r slog.Record) error {
	return s.current().Handle(ctx, r)
}

func (s swapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return swapHandler{ops: append(slices.Clip(s.ops), func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })}
}

func (s swapHandler) WithGroup(name string) slog.Handler {
	return swapHandler{ops: append(slices.Clip(s.ops), func(h slog.Handler) slog.Handler { return h.WithGroup(name) })}
}
