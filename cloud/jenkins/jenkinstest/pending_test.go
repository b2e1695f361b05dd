package jenkinstest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// clock is a fake time source for s.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(s *Server) *clock {
	c := &clock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	s.mu.Lock()
	s.now = c.now
	s.mu.Unlock()
	return c
}

type queueView struct {
	Items []struct {
		ID      int64 `json:"id"`
		Pending bool  `json:"pending"`
	} `json:"items"`
}

type computerView struct {
	Computer []struct {
		DisplayName string `json:"displayName"`
		Executors   []struct {
			CurrentExecutable *struct {
				URL string `json:"url"`
			} `json:"currentExecutable"`
		} `json:"executors"`
	} `json:"computer"`
}

func getJSON(t *testing.T, s *Server, path string, out any) {
	t.Helper()
	resp, body := call(t, s, "GET", path, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// views reads the queue, then the computers, as drover does: the pending
// items and the builds running on agent a.
func views(t *testing.T, s *Server) (pending, waiting []int64, running []string) {
	var q queueView
	getJSON(t, s, "/queue/api/json?tree=items[id,pending]", &q)
	for _, it := range q.Items {
		if it.Pending {
			pending = append(pending, it.ID)
		} else {
			waiting = append(waiting, it.ID)
		}
	}
	var c computerView
	getJSON(t, s, "/computer/api/json?tree=computer[displayName,executors[currentExecutable[url]]]", &c)
	for _, cmp := range c.Computer {
		for _, e := range cmp.Executors {
			if e.CurrentExecutable != nil {
				running = append(running, e.CurrentExecutable.URL)
			}
		}
	}
	return pending, waiting, running
}

func TestPendingWindowOverlapsExecutor(t *testing.T) {
	s := newFake(t)
	clk := withClock(s)
	createNode(t, s, "a", "docker", false)
	_ = s.ConnectAgent("a")
	if resp, _ := call(t, s, "POST", "/createItem?name=j", "application/xml",
		"<project><assignedNode>docker</assignedNode><concurrentBuild>true</concurrentBuild></project>"); resp.StatusCode != 200 {
		t.Fatal("createItem")
	}
	call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	b := s.StartBuilds()
	if len(b) != 1 || b[0].QueueID != 1 {
		t.Fatalf("StartBuilds = %+v, want item 1 started", b)
	}
	// Inside the window: item 1 is listed (pending) AND runs on a.
	pending, waiting, running := views(t, s)
	if len(pending) != 1 || pending[0] != 1 || len(waiting) != 1 || waiting[0] != 2 ||
		len(running) != 1 || running[0] != b[0].URL {
		t.Errorf("in the window: pending %v waiting %v running %v", pending, waiting, running)
	}
	// A pending item is never started again.
	if _, err := s.StartBuild(1); err == nil {
		t.Error("StartBuild of a pending item succeeded")
	}
	if again := s.StartBuilds(); len(again) != 0 {
		t.Errorf("StartBuilds in the window = %+v", again)
	}
	// A new request for the job is not folded into the pending item.
	resp, _ := call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	if loc := resp.Header.Get("Location"); loc != s.URL()+"/queue/item/3/" {
		t.Errorf("build during the window: Location %q, want a new item 3", loc)
	}
	clk.add(DefaultPendingWindow - time.Millisecond)
	if pending, _, _ = views(t, s); len(pending) != 1 {
		t.Errorf("just before the window ends: pending %v", pending)
	}
	clk.add(time.Millisecond)
	pending, waiting, running = views(t, s)
	if len(pending) != 0 || len(waiting) != 2 || len(running) != 1 {
		t.Errorf("after the window: pending %v waiting %v running %v", pending, waiting, running)
	}
	if st := s.Snapshot(); len(st.Queue) != 2 {
		t.Errorf("saved queue = %+v, want the two waiting items", st.Queue)
	}
}

func TestPendingWindowOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Server)
	}{
		{"SetPendingWindow(0)", func(s *Server) { s.SetPendingWindow(0) }},
		{"Options.PendingWindow<0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *Server
			if tc.set != nil {
				s = newFake(t)
				tc.set(s)
			} else {
				var err error
				if s, err = Start(Options{PendingWindow: -1, Users: []User{{"u", "pw", "tok"}}}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
			}
			createNode(t, s, "a", "", false)
			_ = s.ConnectAgent("a")
			s.EnqueuePipeline("p", "a")
			if b := s.StartBuilds(); len(b) != 1 {
				t.Fatalf("StartBuilds = %+v", b)
			}
			pending, waiting, running := views(t, s)
			if len(pending)+len(waiting) != 0 || len(running) != 1 {
				t.Errorf("pending %v waiting %v running %v, want only the running build", pending, waiting, running)
			}
		})
	}
}

func TestPendingWindowOption(t *testing.T) {
	s, err := Start(Options{PendingWindow: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.pendingWindow != 2*time.Second || pendingWindowOf(Options{}) != DefaultPendingWindow {
		t.Errorf("window %v, default %v", s.pendingWindow, pendingWindowOf(Options{}))
	}
}

// A long window holds the overlap open until EndPending closes it.
func TestEndPending(t *testing.T) {
	s, err := Start(Options{PendingWindow: time.Hour, Users: []User{{"u", "pw", "tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	createNode(t, s, "a", "", false)
	_ = s.ConnectAgent("a")
	s.EnqueuePipeline("p", "a")
	s.EnqueuePipeline("p", "a")
	if b := s.StartBuilds(); len(b) != 1 {
		t.Fatalf("StartBuilds = %+v", b)
	}
	if pending, waiting, running := views(t, s); len(pending) != 1 || len(waiting) != 1 || len(running) != 1 {
		t.Fatalf("pending %v waiting %v running %v", pending, waiting, running)
	}
	if n := s.EndPending(); n != 1 {
		t.Errorf("EndPending = %d, want 1", n)
	}
	if pending, waiting, running := views(t, s); len(pending) != 0 || len(waiting) != 1 || len(running) != 1 {
		t.Errorf("after EndPending: pending %v waiting %v running %v", pending, waiting, running)
	}
}
