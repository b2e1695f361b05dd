package apiserver_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

func aggregatorClient(t *testing.T, cfg *rest.Config) aggregatorclient.Interface {
	t.Helper()
	c, err := aggregatorclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitAPIService waits until the APIService's Available condition has the reason (and,
// when msg is not empty, a message containing it), and returns it.
func waitAPIService(t *testing.T, ac aggregatorclient.Interface, name, reason, msg string) *apiregistrationv1.APIService {
	t.Helper()
	var last *apiregistrationv1.APIService
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s, err := ac.ApiregistrationV1().APIServices().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = s
			for _, c := range s.Status.Conditions {
				if c.Type == apiregistrationv1.Available && c.Reason == reason && strings.Contains(c.Message, msg) {
					return s
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("APIService %s never became %s (%q); last: %+v", name, reason, msg, last)
	return nil
}

// Every group version drover serves has a local APIService (kube-apiserver's priorities,
// automanaged onstart, Available with reason Local), and a CRD's group version gets one
// (priority 1000/100, automanaged true) for as long as the CRD is served.
func TestAPIServicesLocal(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	ac := aggregatorClient(t, srv.Config)
	apps := waitAPIService(t, ac, "v1.apps", "Local", "Local APIServices are always available")
	if apps.Spec.Service != nil || apps.Spec.GroupPriorityMinimum != 17800 || apps.Spec.VersionPriority != 15 ||
		apps.Labels["kube-aggregator.kubernetes.io/automanaged"] != "onstart" {
		t.Errorf("v1.apps = %+v", apps)
	}
	core := waitAPIService(t, ac, "v1.", "Local", "")
	if core.Spec.Group != "" || core.Spec.GroupPriorityMinimum != 18000 || core.Spec.VersionPriority != 1 {
		t.Errorf("v1. = %+v", core.Spec)
	}
	hpa := waitAPIService(t, ac, "v2.autoscaling", "Local", "")
	if hpa.Spec.VersionPriority != 30 {
		t.Errorf("v2.autoscaling versionPriority %d, want 30", hpa.Spec.VersionPriority)
	}
	if _, err := ac.ApiregistrationV1().APIServices().Get(context.Background(), "v1.apiregistration.k8s.io", metav1.GetOptions{}); err == nil {
		t.Error("kube-aggregator's own group got an APIService")
	}

	// /apis: apiregistration.k8s.io first (kube-aggregator's), then by group priority.
	var groups metav1.APIGroupList
	r := doRaw(t, srv, http.MethodGet, "/apis", "", nil)
	if err := json.Unmarshal(r.body, &groups); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups.Groups {
		names = append(names, g.Name)
	}
	if len(names) < 3 || names[0] != "apiregistration.k8s.io" || names[1] != "apps" || names[2] != "events.k8s.io" && names[2] != "authentication.k8s.io" {
		t.Errorf("/apis groups in order %v", names)
	}
	if slices.Index(names, "batch") > slices.Index(names, "apiextensions.k8s.io") {
		t.Errorf("batch (17400) after apiextensions.k8s.io (16700): %v", names)
	}

	// A CRD's group version.
	ctx := testCtx(t)
	xc, err := apiextensionsclient.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.agg.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "agg.example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}}},
		},
	}
	if _, err := xc.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := waitAPIService(t, ac, "v1.agg.example.com", "Local", "")
	if w.Spec.GroupPriorityMinimum != 1000 || w.Spec.VersionPriority != 100 || w.Labels["kube-aggregator.kubernetes.io/automanaged"] != "true" {
		t.Errorf("v1.agg.example.com = %+v %v", w.Spec, w.Labels)
	}
	if err := xc.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the CRD's APIService to go", func() (bool, error) {
		_, err := ac.ApiregistrationV1().APIServices().Get(ctx, "v1.agg.example.com", metav1.GetOptions{})
		return gone(err)
	})
}

// APIService validation and defaults are kube-aggregator's.
func TestAPIServiceValidation(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	ac := aggregatorClient(t, srv.Config)
	ctx := testCtx(t)
	bad := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1.wrong.example.com"},
		Spec: apiregistrationv1.APIServiceSpec{Group: "agg.example.com", Version: "v1", GroupPriorityMinimum: 0, VersionPriority: 100,
			Service: &apiregistrationv1.ServiceReference{Namespace: "default", Name: "x"}, InsecureSkipTLSVerify: true, CABundle: []byte("x")}}
	_, err := ac.ApiregistrationV1().APIServices().Create(ctx, bad, metav1.CreateOptions{})
	st := wantStatus(t, "an invalid APIService", err, 422)
	for _, f := range []string{"metadata.name", "spec.groupPriorityMinimum", "spec.insecureSkipTLSVerify"} {
		if !hasCause(st.ErrStatus, f) {
			t.Errorf("no cause on %s: %+v", f, st.ErrStatus.Details)
		}
	}
	ok := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1.agg.example.com"},
		Spec: apiregistrationv1.APIServiceSpec{Group: "agg.example.com", Version: "v1", GroupPriorityMinimum: 100, VersionPriority: 100,
			Service: &apiregistrationv1.ServiceReference{Namespace: "default", Name: "x"}, InsecureSkipTLSVerify: true},
		Status: apiregistrationv1.APIServiceStatus{Conditions: []apiregistrationv1.APIServiceCondition{{Type: "Available", Status: "True"}}}}
	got, err := ac.ApiregistrationV1().APIServices().Create(ctx, ok, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Service.Port == nil || *got.Spec.Service.Port != 443 {
		t.Errorf("spec.service.port = %v, want the default 443", got.Spec.Service.Port)
	}
	if len(got.Status.Conditions) != 0 {
		t.Errorf("status kept on create: %+v", got.Status)
	}
}

// extension is an extension API server for the wardle.example.com/v1alpha1 group, as the
// sample-apiserver would be: it trusts the user in X-Remote-* headers only from a client
// certificate of the requestheader CA drover publishes in kube-system/extension-apiserver-
// authentication, with an allowed name.
type extension struct {
	srv    *httptest.Server
	caPEM  []byte
	port   int32
	broken atomic.Bool // discovery answers 503
	aggr   atomic.Bool // /apis answers aggregated discovery
	mu     sync.Mutex
	seen   []http.Header // of the flunders requests that passed
	bad    atomic.Int32  // requests without a trusted client certificate
}

func startExtension(t *testing.T, cs kubernetes.Interface, serverName string) *extension {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(context.Background(), "extension-apiserver-authentication", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("extension-apiserver-authentication: %v", err)
	}
	for _, k := range []string{"client-ca-file", "requestheader-client-ca-file"} {
		if !strings.Contains(cm.Data[k], "BEGIN CERTIFICATE") {
			t.Fatalf("%s = %q", k, cm.Data[k])
		}
	}
	var allowed, userHeaders, groupHeaders, extraPrefixes []string
	for k, dst := range map[string]*[]string{"requestheader-allowed-names": &allowed, "requestheader-username-headers": &userHeaders,
		"requestheader-group-headers": &groupHeaders, "requestheader-extra-headers-prefix": &extraPrefixes} {
		if err := json.Unmarshal([]byte(cm.Data[k]), dst); err != nil {
			t.Fatalf("%s = %q: %v", k, cm.Data[k], err)
		}
	}
	if !slices.Equal(userHeaders, []string{"X-Remote-User"}) || !slices.Equal(groupHeaders, []string{"X-Remote-Group"}) ||
		!slices.Equal(extraPrefixes, []string{"X-Remote-Extra-"}) || len(allowed) == 0 {
		t.Fatalf("request header settings %v %v %v %v", userHeaders, groupHeaders, extraPrefixes, allowed)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(cm.Data["requestheader-client-ca-file"]))

	e := &extension{}
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, ct string, v interface{}) {
		w.Header().Set("Content-Type", ct)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		if e.aggr.Load() && strings.Contains(r.Header.Get("Accept"), "apidiscovery.k8s.io") {
			writeJSON(w, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", &apidiscoveryv2.APIGroupDiscoveryList{
				TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
				Items: []apidiscoveryv2.APIGroupDiscovery{{ObjectMeta: metav1.ObjectMeta{Name: "wardle.example.com"},
					Versions: []apidiscoveryv2.APIVersionDiscovery{{Version: "v1alpha1", Resources: []apidiscoveryv2.APIResourceDiscovery{
						{Resource: "flunders", Scope: apidiscoveryv2.ScopeNamespace, Verbs: []string{"get", "list"},
							ResponseKind: &metav1.GroupVersionKind{Group: "wardle.example.com", Version: "v1alpha1", Kind: "Flunder"}},
						{Resource: "fischers", Scope: apidiscoveryv2.ScopeCluster, Verbs: []string{"get", "list"},
							ResponseKind: &metav1.GroupVersionKind{Group: "wardle.example.com", Version: "v1alpha1", Kind: "Fischer"}},
					}}}}}})
			return
		}
		writeJSON(w, "application/json", &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
			Groups: []metav1.APIGroup{{Name: "wardle.example.com", Versions: []metav1.GroupVersionForDiscovery{{GroupVersion: "wardle.example.com/v1alpha1", Version: "v1alpha1"}}}}})
	})
	mux.HandleFunc("/apis/wardle.example.com/v1alpha1", func(w http.ResponseWriter, r *http.Request) {
		if e.broken.Load() {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, "application/json", &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "wardle.example.com/v1alpha1",
			APIResources: []metav1.APIResource{{Name: "flunders", SingularName: "flunder", Namespaced: true, Kind: "Flunder", Verbs: []string{"get", "list"}}}})
	})
	// An upgraded connection: the user it was told of, then an echo.
	mux.HandleFunc("/apis/wardle.example.com/v1alpha1/namespaces/default/flunders/the-flunder/attach", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "echo") {
			http.Error(w, "upgrade required", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n" + r.Header.Get("X-Remote-User") + "\n")
		_ = rw.Flush()
		line, err := rw.ReadString('\n')
		if err == nil {
			_, _ = rw.WriteString("echo " + line)
			_ = rw.Flush()
		}
	})
	mux.HandleFunc("/apis/wardle.example.com/v1alpha1/namespaces/default/flunders", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, r.Header.Clone())
		e.mu.Unlock()
		writeJSON(w, "application/json", map[string]interface{}{"apiVersion": "wardle.example.com/v1alpha1", "kind": "FlunderList",
			"metadata": map[string]interface{}{"resourceVersion": "7"},
			"items": []interface{}{map[string]interface{}{"apiVersion": "wardle.example.com/v1alpha1", "kind": "Flunder",
				"metadata": map[string]interface{}{"name": "the-flunder", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}}}})
	})
	// The request header authenticator: a client certificate of the requestheader CA with an
	// allowed name, else the X-Remote-* headers are not trusted (401 here).
	trusted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			e.bad.Add(1)
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil ||
			!slices.Contains(allowed, leaf.Subject.CommonName) || r.Header.Get("X-Remote-User") == "" {
			e.bad.Add(1)
			http.Error(w, "untrusted", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
	ca, cert := servingPair(t, serverName)
	e.caPEM = ca
	e.srv = httptest.NewUnstartedServer(trusted)
	e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	e.port = int32(p)
	return e
}

// servingPair is a CA (PEM) and a serving certificate it signed for name.
func servingPair(t *testing.T, name string) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "extension-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// An APIService with a Service: its Available condition goes through kube-aggregator's
// reasons as the Service, its endpoints and its discovery appear; once available, requests
// for its group version are authorized by drover and proxied with the front-proxy client
// certificate and the user in X-Remote-* headers (never drover's credential), and its group
// is in discovery, merged from its server's legacy or aggregated discovery.
func TestAggregatorRemoteAPIService(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ac := aggregatorClient(t, srv.Config)
	ctx := testCtx(t)
	ext := startExtension(t, cs, "wardle.default.svc")
	ext.broken.Store(true)

	const name = "v1alpha1.wardle.example.com"
	port := ext.port
	apisvc := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiregistrationv1.APIServiceSpec{Group: "wardle.example.com", Version: "v1alpha1", GroupPriorityMinimum: 2000, VersionPriority: 200,
			Service: &apiregistrationv1.ServiceReference{Namespace: "default", Name: "wardle", Port: &port}, CABundle: ext.caPEM}}
	if _, err := ac.ApiregistrationV1().APIServices().Create(ctx, apisvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAPIService(t, ac, name, "ServiceNotFound", `service/wardle in "default" is not present`)

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "wardle", Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: port}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAPIService(t, ac, name, "EndpointsNotFound", `cannot find endpoints for service/wardle in "default"`)
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "wardle", Namespace: "default"}, Subsets: []corev1.EndpointSubset{{
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.7"}}, Ports: []corev1.EndpointPort{{Port: port}}}}}
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAPIService(t, ac, name, "MissingEndpoints", `endpoints for service/wardle in "default" have no addresses with port name ""`)
	// Endpoints may not be loopback addresses: the test's extension server is reached through
	// an ExternalName Service instead, which the aggregator resolves to its name (as
	// kube-aggregator's service resolver), with no endpoint checks.
	if err := cs.CoreV1().Services("default").Delete(ctx, "wardle", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAPIService(t, ac, name, "ServiceNotFound", "")
	svc = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "wardle", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAPIService(t, ac, name, "FailedDiscoveryCheck", "/apis/wardle.example.com/v1alpha1: 503")
	flunders := "/apis/wardle.example.com/v1alpha1/namespaces/default/flunders"
	if r := doRaw(t, srv, http.MethodGet, flunders, "", nil); r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "service unavailable") {
		t.Errorf("an unavailable APIService's resource answered %d %s", r.code, r.body)
	}
	ext.broken.Store(false)
	waitAPIService(t, ac, name, "Passed", "all checks passed")

	// Proxied as the caller, drover's token kept back.
	r := doRaw(t, srv, http.MethodGet, flunders, "", nil)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), "the-flunder") {
		t.Fatalf("GET flunders: %d %s", r.code, r.body)
	}
	ext.mu.Lock()
	h := ext.seen[len(ext.seen)-1]
	seen := len(ext.seen)
	ext.mu.Unlock()
	if h.Get("X-Remote-User") != "admin" || !slices.Contains(h.Values("X-Remote-Group"), "system:masters") || h.Get("Authorization") != "" {
		t.Errorf("the extension server got user %q groups %v, Authorization %q", h.Get("X-Remote-User"), h.Values("X-Remote-Group"), h.Get("Authorization"))
	}
	if n := ext.bad.Load(); n != 0 {
		t.Errorf("%d requests reached the extension server without a trusted front-proxy certificate", n)
	}
	// Authorized by drover first: a user without RBAC never reaches the extension server.
	jane, err := srv.PKI.IssueUser("jane")
	if err != nil {
		t.Fatal(err)
	}
	_, err = asCert(t, srv, jane).CoreV1().RESTClient().Get().AbsPath(flunders).DoRaw(ctx)
	wantStatus(t, "jane listing flunders", err, 403)
	ext.mu.Lock()
	if len(ext.seen) != seen {
		t.Error("a forbidden request was proxied")
	}
	ext.mu.Unlock()

	// Discovery: the group in /apis and /apis/GROUP, /apis/GROUP/VERSION the extension's own,
	// aggregated discovery from its legacy document.
	var groups metav1.APIGroupList
	if err := json.Unmarshal(doRaw(t, srv, http.MethodGet, "/apis", "", nil).body, &groups); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range groups.Groups {
		if g.Name == "wardle.example.com" && g.PreferredVersion.GroupVersion == "wardle.example.com/v1alpha1" {
			found = true
		}
	}
	if !found {
		t.Errorf("/apis lacks wardle.example.com: %+v", groups.Groups)
	}
	if r := doRaw(t, srv, http.MethodGet, "/apis/wardle.example.com", "", nil); r.code != 200 || !strings.Contains(string(r.body), `"preferredVersion"`) {
		t.Errorf("/apis/wardle.example.com: %d %s", r.code, r.body)
	}
	rs, err := cs.Discovery().ServerResourcesForGroupVersion("wardle.example.com/v1alpha1")
	if err != nil || len(rs.APIResources) != 1 || rs.APIResources[0].Name != "flunders" {
		t.Errorf("ServerResourcesForGroupVersion: %+v, %v", rs, err)
	}
	aggregatedResources := func() []string {
		r := doWith(t, httpClient(t, srv), http.MethodGet, srv.URL+"/apis", "", nil,
			http.Header{"Accept": {"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}})
		var list apidiscoveryv2.APIGroupDiscoveryList
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		for _, g := range list.Items {
			if g.Name == "wardle.example.com" && len(g.Versions) == 1 && g.Versions[0].Freshness == apidiscoveryv2.DiscoveryFreshnessCurrent {
				var out []string
				for _, res := range g.Versions[0].Resources {
					out = append(out, res.Resource)
				}
				return out
			}
		}
		return nil
	}
	eventually(t, 10*time.Second, "flunders in aggregated discovery", func() (bool, error) {
		return slices.Equal(aggregatedResources(), []string{"flunders"}), nil
	})
	// An extension server answering aggregated discovery is merged from its /apis; a spec
	// change is checked (and discovery read) at once.
	ext.aggr.Store(true)
	if _, err := ac.ApiregistrationV1().APIServices().Patch(ctx, name, "application/merge-patch+json", []byte(`{"spec":{"versionPriority":400}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "fischers from the aggregated discovery", func() (bool, error) {
		return slices.Equal(aggregatedResources(), []string{"flunders", "fischers"}), nil
	})

	// An upgrade request is proxied as an upgrade, the user in its headers.
	testUpgrade(t, srv)

	// A condition a client adds stays beside Available (the e2e test's status update).
	cur, err := ac.ApiregistrationV1().APIServices().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Conditions = append(cur.Status.Conditions, apiregistrationv1.APIServiceCondition{Type: "StatusUpdated", Status: "True", Reason: "E2E"})
	if _, err := ac.ApiregistrationV1().APIServices().UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// kubectl.
	kubectl := kubectlFor(t, srv)
	out, err := kubectl("get", "apiservices")
	if err != nil || !regexpMatch(`(?m)^v1alpha1\.wardle\.example\.com\s+default/wardle\s+True\s`, out) || !regexpMatch(`(?m)^v1\.apps\s+Local\s+True\s`, out) {
		t.Errorf("kubectl get apiservices: %v\n%s", err, out)
	}
	out, err = kubectl("get", "flunders", "-n", "default")
	if err != nil || !strings.Contains(out, "the-flunder") {
		t.Errorf("kubectl get flunders: %v\n%s", err, out)
	}

	// The Service gone: unavailable again, requests 503.
	if err := cs.CoreV1().Services("default").Delete(ctx, "wardle", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitAPIService(t, ac, name, "ServiceNotFound", "")
	if !slices.ContainsFunc(got.Status.Conditions, func(c apiregistrationv1.APIServiceCondition) bool { return c.Type == "StatusUpdated" }) {
		t.Errorf("the client's condition was dropped: %+v", got.Status.Conditions)
	}
	if r := doRaw(t, srv, http.MethodGet, flunders, "", nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("after the Service went: %d %s", r.code, r.body)
	}
}

func httpClient(t *testing.T, srv *apiservertest.Server) *http.Client {
	t.Helper()
	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// testUpgrade sends a raw upgrade request for a flunder's attach through drover and talks
// over the upgraded connection.
func testUpgrade(t *testing.T, srv *apiservertest.Server) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.Config.TLSClientConfig.CAData)
	u, _ := url.Parse(srv.URL)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /apis/wardle.example.com/v1alpha1/namespaces/default/flunders/the-flunder/attach HTTP/1.1\r\nHost: " + u.Host +
		"\r\nAuthorization: Bearer " + srv.Config.BearerToken + "\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upgrade answered %d %s", resp.StatusCode, b)
	}
	who, _ := br.ReadString('\n')
	if strings.TrimSpace(who) != "admin" {
		t.Errorf("the extension server saw user %q on the upgraded connection", who)
	}
	if _, err := conn.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := br.ReadString('\n'); got != "echo hello\n" {
		t.Errorf("over the upgraded connection: %q", got)
	}
}
