package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// Ledger entry states.
const (
	ledgerLost        = "lost"         // waiting for the build to end
	ledgerRequeued    = "requeued"     // triggered again (or being: at most once)
	ledgerNotRequeued = "not-requeued" // closed without a requeue
)

// LedgerTTL is how long a closed ledger entry is kept.
const LedgerTTL = 24 * time.Hour

// lostBuild is one entry of the requeue ledger: a build whose agent was
// lost to infrastructure. The ledger lives in the API (RequeueConfigMap),
// so a restarted provider neither loses nor repeats a requeue.
type lostBuild struct {
	Build    string    `json:"build"`
	Template string    `json:"template"`
	Agent    string    `json:"agent"`
	Reason   string    `json:"reason"`
	LostAt   time.Time `json:"lostAt"`
	State    string    `json:"state"`
	// Attempt is 1 for a build lost the first time, n+1 for the requeue of
	// a build lost at attempt n.
	Attempt int `json:"attempt"`
	// Retries is the template's retryLostBuilds when the build was lost.
	Retries int    `json:"retries"`
	Detail  string `json:"detail,omitempty"`
	// QueueItem is the id of the queue item the requeue created.
	QueueItem int64 `json:"queueItem,omitempty"`
}

// requeueAction closes a ledger entry: trigger its job again with params,
// or not (detail says why).
type requeueAction struct {
	entry   lostBuild
	trigger bool
	job     string
	params  []jenkins.Parameter
}

// attempt is the attempt number of build, which agent a ran: one more than
// that of the requeue whose queue item the build was started from (Jenkins'
// queueId of the build, else the queue item the agent was launched for).
func attempt(w *world, a *agent, build string) int {
	id := w.builds[build].QueueID
	if id == 0 {
		var err error
		if id, err = strconv.ParseInt(a.pod.Labels[render.LabelQueueItem], 10, 64); err != nil {
			return 1
		}
	}
	for _, e := range w.ledger {
		if e.QueueItem == id && e.State == ledgerRequeued {
			return e.Attempt + 1
		}
	}
	return 1
}

// decideRequeues closes the lost builds (new or from the ledger) whose
// build has ended: requeued when it did not succeed and the template's
// retryLostBuilds allows one more attempt. ABORTED counts as not succeeded:
// Jenkins aborts a build whose node is deleted, which is how a build lost
// with its pod ends once drover removes the node.
func decideRequeues(w *world, pol policy, d *decision) {
	var open []lostBuild
	for _, e := range w.ledger {
		if e.State == ledgerLost {
			open = append(open, e)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].Build < open[j].Build })
	for _, e := range append(open, d.lost...) {
		b, ok := w.builds[e.Build]
		if !ok || b.Building {
			continue // not ended yet (or not readable now): next poll
		}
		r := requeueAction{entry: e, job: b.Job, params: b.Parameters}
		switch {
		case b.Result == "SUCCESS":
			r.entry.State, r.entry.Detail = ledgerNotRequeued, "build ended "+b.Result
		case e.Retries == 0:
			r.entry.State, r.entry.Detail = ledgerNotRequeued, "retryLostBuilds is 0"
		case e.Attempt > e.Retries:
			r.entry.State, r.entry.Detail = ledgerNotRequeued, fmt.Sprintf("retryLostBuilds %d reached", e.Retries)
		case b.Job == "":
			r.entry.State, r.entry.Detail = ledgerNotRequeued, "job of the build unknown"
		default:
			r.trigger = true
			r.entry.State, r.entry.Detail = ledgerRequeued, "triggering "+b.Job
		}
		d.requeues = append(d.requeues, r)
	}
}

// ledgerKey is the ConfigMap key of a build URL ([-._a-zA-Z0-9]+).
func ledgerKey(build string) string {
	if i := strings.Index(build, "/job/"); i >= 0 {
		build = build[i+1:]
	}
	return strings.Trim(keyChars.ReplaceAllString(build, "_"), "_.")
}

var keyChars = regexp.MustCompile(`[^-._a-zA-Z0-9]+`)

// readLedger reads the requeue ledger (empty when there is none).
func (p *Provider) readLedger(ctx context.Context) (map[string]lostBuild, error) {
	cm, err := p.opts.Kube.CoreV1().ConfigMaps(p.ns).Get(ctx, RequeueConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return map[string]lostBuild{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provider: read the requeue ledger: %w", err)
	}
	out := map[string]lostBuild{}
	for k, v := range cm.Data {
		var e lostBuild
		if err := json.Unmarshal([]byte(v), &e); err != nil || e.Build == "" {
			p.log.Warn("ignoring a bad requeue ledger entry", "key", k, "err", err)
			continue
		}
		out[e.Build] = e
	}
	return out, nil
}

// writeLedger stores entries in the ledger (read, changed, written back;
// a conflict is retried) and drops closed entries older than LedgerTTL.
func (p *Provider) writeLedger(ctx context.Context, now time.Time, entries ...lostBuild) error {
	cms := p.opts.Kube.CoreV1().ConfigMaps(p.ns)
	for try := 0; ; try++ {
		cm, err := cms.Get(ctx, RequeueConfigMap, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if create {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RequeueConfigMap, Namespace: p.ns}}
		} else if err != nil {
			return fmt.Errorf("provider: read the requeue ledger: %w", err)
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		for _, e := range entries {
			b, _ := json.Marshal(e)
			cm.Data[ledgerKey(e.Build)] = string(b)
		}
		expire(cm.Data, now)
		if create {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		} else {
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err == nil || try >= 3 || !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) {
			if err != nil {
				return fmt.Errorf("provider: write the requeue ledger: %w", err)
			}
			return nil
		}
	}
}

// expire drops closed entries lost more than LedgerTTL before now.
func expire(data map[string]string, now time.Time) {
	for k, v := range data {
		var e lostBuild
		if json.Unmarshal([]byte(v), &e) == nil && e.State != ledgerLost && now.Sub(e.LostAt) > LedgerTTL {
			delete(data, k)
		}
	}
}

// queueItemID is the id in a queue item URL (…/queue/item/ID/), 0 if none.
func queueItemID(url string) int64 {
	_, rest, ok := strings.Cut(url, "/queue/item/")
	if !ok {
		return 0
	}
	id, _ := strconv.ParseInt(strings.Trim(rest, "/"), 10, 64)
	return id
}
