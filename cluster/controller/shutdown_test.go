package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// A watch cache that is re-initialising answers watches 429 with Retry-After: 1, as
// Kubernetes' cacher; client-go retries such a request up to 10 times, and its informers watch
// with context.TODO(), so an informer's goroutine stays in that WATCH for about ten seconds
// after its stop channel closed. ShutdownInformers does not wait that long; the informers end
// after the retries.
func TestShutdownInformersDoesNotWaitForARetriedWatch(t *testing.T) {
	var watches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "true" {
			_, _ = w.Write([]byte(`{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[]}`))
			return
		}
		watches.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"storage is (re)initializing","reason":"TooManyRequests","code":429}`))
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	factory.Core().V1().Secrets().Informer()
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	for watches.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if ShutdownInformers(factory, 200*time.Millisecond) {
		t.Fatal("the informers ended during their watch's retries: the test shows nothing")
	}
	if !ShutdownInformers(factory, 60*time.Second) {
		t.Error("the informers did not end after their watch's retries")
	}
}
