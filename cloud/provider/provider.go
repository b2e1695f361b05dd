package provider

import (
	"context"
	"errors"
)

// Provider is the Jenkins cloud provider. Build it with New.
type Provider struct {
	opts Options
}

// New checks the options and builds a Provider.
func New(opts Options) (*Provider, error) {
	if opts.Config == nil || opts.Jenkins == nil || opts.Kube == nil {
		return nil, errors.New("provider: Config, Jenkins and Kube are required")
	}
	return &Provider{opts: opts}, nil
}

// Run works until ctx ends: it cleans up orphans, then polls every
// Config.PollInterval. TODO(provider helper): implement.
func (p *Provider) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Status returns the latest status.
func (p *Provider) Status() Status { return Status{} }
