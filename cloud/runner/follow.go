package runner

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cluster/controller"
)

// follow watches the configuration ConfigMap and runs a provider for its current content.
func (r *Runner) follow(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(r.client, 0,
		informers.WithNamespace(ConfigNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", ConfigMapName).String()
		}))
	inf := factory.Core().V1().ConfigMaps()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, n any) { poke(n) }, DeleteFunc: poke,
	}); err != nil {
		return err
	}
	// The informers stop when this returns, also early with an error (their stop channel
	// must close before Shutdown waits for them).
	ctx, cancel := context.WithCancel(ctx)
	factory.Start(ctx.Done())
	defer func() {
		cancel()
		controller.ShutdownInformers(factory, controller.InformerShutdownWait)
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil
	}
	poke(nil)
	var cur *run
	defer func() { cur.stop() }()
	have, haveData := false, ""
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		cm, err := inf.Lister().ConfigMaps(ConfigNamespace).Get(ConfigMapName)
		exists := err == nil
		data := ""
		if exists {
			data = cm.Data[ConfigKey]
		}
		if exists == have && data == haveData {
			continue
		}
		cur.stop()
		cur = nil
		have, haveData = exists, data
		if !exists {
			r.log.Info("jenkins cloud: no configuration; provider stopped", "configmap", ConfigNamespace+"/"+ConfigMapName)
			continue
		}
		cfg, err := parse(cm)
		if err != nil {
			r.log.Error("jenkins cloud: configuration refused", "configmap", ConfigNamespace+"/"+ConfigMapName, "err", err)
			r.event(cm, corev1.EventTypeWarning, "InvalidConfig", err.Error())
			continue
		}
		r.log.Info("jenkins cloud: configuration", "configmap", ConfigNamespace+"/"+ConfigMapName, "config", *cfg)
		cur = r.start(ctx, cfg, cm.DeepCopy())
	}
}

// parse loads and validates the ConfigMap's configuration.
func parse(cm *corev1.ConfigMap) (*config.Config, error) {
	data, ok := cm.Data[ConfigKey]
	if !ok {
		return nil, fmt.Errorf("%s: missing", ConfigKey)
	}
	cfg, err := config.Load([]byte(data))
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// run is one supervised provider.
type run struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *Runner) start(ctx context.Context, cfg *config.Config, src *corev1.ConfigMap) *run {
	rctx, cancel := context.WithCancel(ctx)
	x := &run{cancel: cancel}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		r.supervise(rctx, cfg, src)
	}()
	return x
}

// stop ends the run and waits for its provider to return (nil: nothing to do).
func (x *run) stop() {
	if x == nil {
		return
	}
	x.cancel()
	x.wg.Wait()
}
