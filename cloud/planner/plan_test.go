package planner

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// item is a buildable queue item with label expression label.
func item(id int64, label string) jenkins.QueueItem {
	return jenkins.QueueItem{ID: id, Buildable: true, LabelExpression: label, Label: label}
}

// items returns n buildable items with that label.
func items(n int, label string) []jenkins.QueueItem {
	var out []jenkins.QueueItem
	for i := 0; i < n; i++ {
		out = append(out, item(int64(i+1), label))
	}
	return out
}

// fromWhy is a pipeline item whose label is only named in its why text.
func fromWhy(id int64, why string) jenkins.QueueItem {
	it := jenkins.QueueItem{ID: id, Buildable: true, Why: why}
	it.Label, it.Node = jenkins.ParseWhy(why)
	return it
}

var (
	docker  = Template{Name: "docker", Label: "docker linux"}
	maven   = Template{Name: "maven", Label: "maven jdk17 linux"}
	generic = Template{Name: "generic"}
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
		want map[string]int // template → launch; templates not named: 0
	}{
		{"nothing queued", Input{Templates: []Template{docker}}, nil},
		{"one per item", Input{Items: items(5, "docker"), Templates: []Template{docker}},
			map[string]int{"docker": 5}},
		{"first template in config order takes the item",
			Input{Items: items(2, "linux"), Templates: []Template{maven, docker}}, map[string]int{"maven": 2}},
		{"expression picks the template",
			Input{Items: []jenkins.QueueItem{item(1, "linux && !maven"), item(2, "jdk17 || windows"), item(3, "docker && maven")},
				Templates: []Template{maven, docker}}, map[string]int{"maven": 1, "docker": 1}},
		{"not buildable is not demand",
			Input{Items: []jenkins.QueueItem{{ID: 1, Label: "docker"}, item(2, "docker")}, Templates: []Template{docker}},
			map[string]int{"docker": 1}},
		{"bad expression is skipped",
			Input{Items: []jenkins.QueueItem{item(1, "docker &&"), item(2, "docker")}, Templates: []Template{docker}},
			map[string]int{"docker": 1}},
		{"unlabelled items go to the template with an empty label",
			Input{Items: items(2, ""), Templates: []Template{docker, generic}}, map[string]int{"generic": 2}},
		{"unlabelled items and no empty-label template",
			Input{Items: items(2, ""), Templates: []Template{docker, maven}}, nil},
		{"labelled items do not go to an empty-label template",
			Input{Items: items(2, "docker"), Templates: []Template{generic}}, nil},
		{"label from why",
			Input{Items: []jenkins.QueueItem{
				fromWhy(1, "There are no nodes with the label ‘docker’"),
				fromWhy(2, "Waiting for next available executor on ‘maven’"),
				fromWhy(3, "All nodes of label ‘docker’ are offline"),
			}, Templates: []Template{docker, maven}}, map[string]int{"docker": 2, "maven": 1}},
		{"why naming no label is unlabelled",
			Input{Items: []jenkins.QueueItem{fromWhy(1, "Waiting for next available executor")},
				Templates: []Template{docker, generic}}, map[string]int{"generic": 1}},
		{"offline node names its template and is covered by it",
			Input{Items: []jenkins.QueueItem{fromWhy(1, "‘maven-abc12’ is offline")},
				Templates: []Template{docker, maven}, NodeTemplate: map[string]string{"maven-abc12": "maven"},
				Agents: map[string]Agents{"maven": {Starting: 1}}}, nil},
		{"offline node names its template, not covered",
			Input{Items: []jenkins.QueueItem{fromWhy(1, "‘maven-abc12’ is offline"), item(2, "maven")},
				Templates: []Template{docker, maven}, NodeTemplate: map[string]string{"maven-abc12": "maven"},
				Agents: map[string]Agents{"maven": {Starting: 1}}}, map[string]int{"maven": 1}},
		{"offline node of no template",
			Input{Items: []jenkins.QueueItem{fromWhy(1, "‘static’ is offline")}, Templates: []Template{docker, generic}}, nil},
		{"items covered by pending, starting and idle agents",
			Input{Items: items(5, "docker"), Templates: []Template{docker},
				Agents: map[string]Agents{"docker": {Pending: 1, Starting: 1, Idle: 1, Busy: 4}}},
			map[string]int{"docker": 2}},
		{"more agents coming than items",
			Input{Items: items(1, "docker"), Templates: []Template{docker},
				Agents: map[string]Agents{"docker": {Pending: 3}}}, nil},
		{"instance cap counts all agents",
			Input{Items: items(10, "docker"), Templates: []Template{{Name: "docker", Label: "docker", InstanceCap: 5}},
				Agents: map[string]Agents{"docker": {Busy: 2, Pending: 1}}}, map[string]int{"docker": 2}},
		{"instance cap reached",
			Input{Items: items(3, "docker"), Templates: []Template{{Name: "docker", Label: "docker", InstanceCap: 2}},
				Agents: map[string]Agents{"docker": {Busy: 3}}}, nil},
		{"pending cap counts pending and starting",
			Input{Items: items(10, "docker"), Templates: []Template{{Name: "docker", Label: "docker", MaxPending: 3}},
				Agents: map[string]Agents{"docker": {Pending: 1, Starting: 1, Busy: 5}}}, map[string]int{"docker": 1}},
		{"container cap across templates in config order",
			Input{Items: append(items(4, "docker"), items(4, "maven")...), Templates: []Template{docker, maven},
				ContainerCap: 6, Agents: map[string]Agents{"maven": {Busy: 1}}}, map[string]int{"docker": 4, "maven": 1}},
		{"container cap counts agents of templates no longer configured",
			Input{Items: items(4, "docker"), Templates: []Template{docker}, ContainerCap: 5,
				Agents: map[string]Agents{"old": {Idle: 3}}}, map[string]int{"docker": 2}},
		{"container cap already exceeded",
			Input{Items: items(4, "docker"), Templates: []Template{docker}, ContainerCap: 2,
				Agents: map[string]Agents{"docker": {Busy: 3}}}, nil},
		{"warm pool with an empty queue",
			Input{Templates: []Template{{Name: "docker", Label: "docker", MinIdle: 2}},
				Agents: map[string]Agents{"docker": {Busy: 5}}}, map[string]int{"docker": 2}},
		{"warm pool partly there",
			Input{Templates: []Template{{Name: "docker", Label: "docker", MinIdle: 3}},
				Agents: map[string]Agents{"docker": {Idle: 1, Starting: 1}}}, map[string]int{"docker": 1}},
		{"warm pool on top of demand",
			Input{Items: items(2, "docker"), Templates: []Template{{Name: "docker", Label: "docker", MinIdle: 2}},
				Agents: map[string]Agents{"docker": {Idle: 2}}}, map[string]int{"docker": 2}},
		{"warm pool within instance cap",
			Input{Templates: []Template{{Name: "docker", Label: "docker", MinIdle: 4, InstanceCap: 3}},
				Agents: map[string]Agents{"docker": {Busy: 2}}}, map[string]int{"docker": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.in)
			if len(got) != len(tc.in.Templates) {
				t.Fatalf("Plan gave %d decisions for %d templates: %+v", len(got), len(tc.in.Templates), got)
			}
			launch := map[string]int{}
			for i, d := range got {
				if d.Template != tc.in.Templates[i].Name {
					t.Errorf("decision %d is for %q, want %q (config order)", i, d.Template, tc.in.Templates[i].Name)
				}
				if d.Launch < 0 || d.Launch > d.Want {
					t.Errorf("%s: launch %d outside [0, want %d]", d.Template, d.Launch, d.Want)
				}
				if d.Launch != 0 {
					launch[d.Template] = d.Launch
				}
			}
			if d := cmp.Diff(tc.want, launch, cmpEmpty); d != "" {
				t.Errorf("launches (-want +got):\n%s\n%+v", d, got)
			}
			if again := Plan(tc.in); !cmp.Equal(got, again) {
				t.Errorf("Plan is not deterministic:\n%+v\n%+v", got, again)
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
})

func TestPlanReason(t *testing.T) {
	in := Input{Items: items(6, "docker"), ContainerCap: 4,
		Templates: []Template{{Name: "docker", Label: "docker", InstanceCap: 5, MinIdle: 1}},
		Agents:    map[string]Agents{"docker": {Pending: 1, Busy: 1}}}
	got := Plan(in)
	want := []Decision{{Template: "docker", Launch: 2, Items: 6, Want: 6,
		Reason: "6 queued + minIdle 1 - 1 coming (1 pending, 0 starting, 0 idle) = want 6; capped by instanceCap 5, containerCap 4; launch 2"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Plan (-want +got):\n%s", d)
	}
}

func TestAssignUnmatched(t *testing.T) {
	its := []jenkins.QueueItem{
		item(1, "docker"), item(2, "windows"), item(3, "docker ||"), {ID: 4, Label: "docker"},
		item(5, ""), fromWhy(6, "‘x’ is offline"), item(7, "linux"),
	}
	a := Assign(its, []Template{docker, maven}, nil)
	ids := map[string][]int64{}
	for name, list := range a.ByTemplate {
		for _, it := range list {
			ids[name] = append(ids[name], it.ID)
		}
	}
	if d := cmp.Diff(map[string][]int64{"docker": {1, 7}}, ids); d != "" {
		t.Errorf("ByTemplate (-want +got):\n%s", d)
	}
	reasons := map[int64]string{}
	for _, u := range a.Unmatched {
		reasons[u.Item.ID] = u.Reason
	}
	for id, want := range map[int64]string{
		2: `no template has labels matching "windows"`, 3: "at 9: expected a label",
		4: "not buildable", 5: "no template has an empty label", 6: `waits for node "x"`,
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("item %d: reason %q, want it to contain %q", id, reasons[id], want)
		}
	}
	if len(a.Unmatched) != 5 {
		t.Errorf("%d unmatched, want 5: %+v", len(a.Unmatched), a.Unmatched)
	}
}
