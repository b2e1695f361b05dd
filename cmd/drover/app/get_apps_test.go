package app

import (
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// `drover get all` lists an autoscaler once although the server serves it in two versions
// (autoscaling/v1 and v2 are both in the "all" category), in the preferred version, as kubectl does.
func TestGetAllListsMultiVersionResourcesOnce(t *testing.T) {
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, MaxReplicas: 3}}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(t.Context(), hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Run(t.Context(), []string{"get", "all", "--kubeconfig", srv.Kubeconfig},
		Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out}); err != nil {
		t.Fatalf("get all: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "horizontalpodautoscaler.autoscaling/web "); n != 1 {
		t.Errorf("get all lists the autoscaler %d times:\n%s", n, out.String())
	}
}
