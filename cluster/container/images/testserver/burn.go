package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// burner keeps the CPU busy at a set level (in cores), in 10 ms duty cycles on as many
// goroutines as whole cores are asked for.
type burner struct {
	mu     sync.Mutex
	cores  float64
	cancel context.CancelFunc
}

// set changes the level; 0 stops burning.
func (b *burner) set(cores float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
	b.cores = cores
	if cores <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	n := int(math.Ceil(cores))
	for i := 0; i < n; i++ {
		go spin(ctx, cores/float64(n))
	}
}

// spin is busy for duty of every 10 ms until ctx ends.
func spin(ctx context.Context, duty float64) {
	const period = 10 * time.Millisecond
	busy := time.Duration(duty * float64(period))
	for ctx.Err() == nil {
		start := time.Now()
		for time.Since(start) < busy {
		}
		time.Sleep(period - busy)
	}
}

// serveBurn answers POST /burn?cpu=CORES: burn that much CPU from now on (0 stops).
func (b *burner) serveBurn(w http.ResponseWriter, r *http.Request) {
	cores, err := strconv.ParseFloat(r.URL.Query().Get("cpu"), 64)
	if err != nil || cores < 0 || cores > 64 {
		http.Error(w, "want cpu=CORES (0-64)", http.StatusBadRequest)
		return
	}
	b.set(cores)
	fmt.Fprintf(w, "burning %g cores\n", cores)
}
