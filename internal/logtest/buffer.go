package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for writers and a reader in different goroutines: what a
// process, a command run in-process or a logger wrote, read by the test meanwhile.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
