package jenkinstest

import (
	"strings"
	"testing"
)

// The Location of a triggered build answers while the item waits, while it
// is pending, and after it left: with the build it became, or cancelled.
func TestQueueItemAPI(t *testing.T) {
	s := newFake(t)
	clk := withClock(s)
	call(t, s, "POST", "/createItem?name=j", "application/xml", "<project><concurrentBuild>true</concurrentBuild></project>")
	r1, _ := call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	path := strings.TrimPrefix(r1.Header.Get("Location"), s.URL()) + "api/json"
	get := func(p string) (int, string) {
		resp, body := call(t, s, "GET", p, "", "")
		return resp.StatusCode, body
	}
	if code, body := get(path); code != 200 || !strings.Contains(body, `"_class":"hudson.model.Queue$BuildableItem"`) ||
		!strings.Contains(body, `"why":"Waiting for next available executor"`) {
		t.Errorf("waiting: %d %s", code, body)
	}
	createNode(t, s, "a", "", false)
	_ = s.ConnectAgent("a")
	b, err := s.StartBuild(1)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(path); code != 200 || !strings.Contains(body, `"pending":true`) {
		t.Errorf("pending: %d %s", code, body)
	}
	clk.add(DefaultPendingWindow)
	code, body := get(path + "?tree=cancelled,executable[number,url]")
	if code != 200 || !strings.Contains(body, `"_class":"hudson.model.Queue$LeftItem"`) || !strings.Contains(body, `"cancelled":false`) ||
		!strings.Contains(body, `"url":"`+b.URL+`"`) || !strings.Contains(body, `"number":1`) {
		t.Errorf("left: %d %s", code, body)
	}
	call(t, s, "POST", "/queue/cancelItem?id=2", "", "")
	if code, body := get("/queue/item/2/api/json"); code != 200 || !strings.Contains(body, `"cancelled":true`) ||
		!strings.Contains(body, `"executable":null`) {
		t.Errorf("cancelled: %d %s", code, body)
	}
	if code, _ := get("/queue/item/99/api/json"); code != 404 {
		t.Errorf("unknown item: %d", code)
	}
}
