package jenkins

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const queueTree = "items[id,why,inQueueSince,buildable,stuck,pending,blocked,task[name,url,labelExpression]]"

type queueJSON struct {
	Items []struct {
		ID           int64  `json:"id"`
		Why          string `json:"why"`
		InQueueSince int64  `json:"inQueueSince"`
		Buildable    bool   `json:"buildable"`
		Stuck        bool   `json:"stuck"`
		Pending      bool   `json:"pending"`
		Blocked      bool   `json:"blocked"`
		Task         struct {
			Name            string `json:"name"`
			URL             string `json:"url"`
			LabelExpression string `json:"labelExpression"`
		} `json:"task"`
	} `json:"items"`
}

// Queue implements Client.
func (g *Gojenkins) Queue(ctx context.Context) ([]QueueItem, error) {
	var q queueJSON
	if err := g.getJSON(ctx, "/queue/api/json", map[string]string{"tree": queueTree}, &q); err != nil {
		return nil, fmt.Errorf("jenkins: queue: %w", err)
	}
	items := make([]QueueItem, 0, len(q.Items))
	for _, it := range q.Items {
		item := QueueItem{
			ID:              it.ID,
			Why:             it.Why,
			InQueueSince:    time.UnixMilli(it.InQueueSince),
			Buildable:       it.Buildable,
			Stuck:           it.Stuck,
			Pending:         it.Pending,
			Blocked:         it.Blocked,
			TaskName:        it.Task.Name,
			TaskURL:         it.Task.URL,
			LabelExpression: it.Task.LabelExpression,
		}
		item.Label, item.Node = ParseWhy(it.Why)
		if item.LabelExpression != "" {
			item.Label = item.LabelExpression
		}
		items = append(items, item)
	}
	return items, nil
}

// CancelQueueItem implements Client.
func (g *Gojenkins) CancelQueueItem(ctx context.Context, id int64) error {
	r := request{method: http.MethodPost, path: "/queue/cancelItem",
		query: map[string]string{"id": strconv.FormatInt(id, 10)}}
	resp, body, err := g.do(ctx, r)
	if err == nil {
		err = expect(r, resp, body, http.StatusNoContent, http.StatusOK, http.StatusFound)
	}
	if err != nil {
		return fmt.Errorf("jenkins: cancel queue item %d: %w", id, err)
	}
	return nil
}
