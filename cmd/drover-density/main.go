// Command drover-density is the driver of the density test (`make density`,
// scripts/density.sh): see internal/density and docs/performance.md.
//
//	drover-density --kubeconfig KC --nodes 100 --pods 3000 [--server-pid PID --node-pids P1,P2 --state-db FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/internal/density"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "drover-density:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := density.ParseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{}))
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	rc.QPS, rc.Burst = float32(cfg.QPS), int(2*cfg.QPS)
	rc.UserAgent = "drover-density"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("API client: %w", err)
	}
	_, err = density.Run(ctx, cfg, client, log, os.Stdout)
	return err
}
