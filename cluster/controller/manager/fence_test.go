package manager

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// recorder is a transport that answers 200 and records what reached it.
type recorder struct{ sent []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.sent = append(r.sent, req.Method+" "+req.URL.Path)
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

// A fenced client sends writes only while the process leads with a Lease renewed within the
// renew deadline; reads always go. A refused write trips the fence (ends the term) and never
// reaches the wire: the case of a worker that runs before the fence's timer when a frozen
// process wakes.
func TestFencedTransportHoldsBackWritesPastTheDeadline(t *testing.T) {
	f := &Fence{identity: "me", deadline: 7 * time.Second, log: slog.New(slog.DiscardHandler)}
	rec := &recorder{}
	rt := f.WrapTransport(rec)
	do := func(method string) error {
		req, err := http.NewRequest(method, "https://api/api/v1/namespaces/default/pods", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	// Not leading yet: no write.
	if err := do(http.MethodPost); !errors.Is(err, ErrNotLeading) {
		t.Fatalf("POST before leading: err %v, want ErrNotLeading", err)
	}
	// Leading, renewed just now: writes go.
	ended := false
	f.mu.Lock()
	f.renewed, f.cancel = time.Now(), func() { ended = true }
	f.mu.Unlock()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet} {
		if err := do(m); err != nil {
			t.Fatalf("%s while leading: %v", m, err)
		}
	}
	if ended {
		t.Fatal("a write within the deadline ended the term")
	}
	// Woken from a freeze: the last renewal started 11 s ago, the fence's timer has not run.
	f.mu.Lock()
	f.renewed = time.Now().Add(-11 * time.Second)
	f.mu.Unlock()
	before := len(rec.sent)
	for _, m := range []string{http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch} {
		err := do(m)
		if !errors.Is(err, ErrNotLeading) {
			t.Fatalf("%s past the deadline: err %v, want ErrNotLeading", m, err)
		}
		if !strings.Contains(err.Error(), m+" /api/v1/namespaces/default/pods") {
			t.Errorf("error %q does not name the request", err)
		}
	}
	if got := rec.sent[before:]; len(got) != 0 {
		t.Fatalf("writes reached the wire past the deadline: %v", got)
	}
	if !ended {
		t.Fatal("a refused write did not end the term")
	}
	// Reads (informers' lists and watches) still go.
	if err := do(http.MethodGet); err != nil {
		t.Fatalf("GET past the deadline: %v", err)
	}
}
