package webhooks

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// hook is a destination for one company or one project scope.
type hook struct {
	ID             int64
	APIVersion     string
	Namespace      string
	DestinationURL string
	Headers        map[string]string
	CompanyID      int64
	ProjectID      int64 // 0 for a company hook
	UserID         int64
	triggers       []*trigger
	log            []*delivery // ascending id, at most maxLogPerHook
}

type trigger struct {
	ID           int64
	HookID       int64
	ResourceName string
	EventType    string
	CompanyID    int64
	ProjectID    int64
	UserID       int64
}

// delivery is one attempt (or one discard) in a hook's delivery log.
type delivery struct {
	ID              int64
	EventID         int64
	Event           json.RawMessage
	StartedAt       time.Time
	CompletedAt     time.Time
	ResponseStatus  int // 0: no response
	ResponseHeaders map[string]string
	ResponseBody    *string
	ResponseError   *string
	Outcome         string
}

const (
	outcomeOK        = "ok"
	outcomeFailed    = "failed"
	outcomeRetried   = "retried"
	outcomeDiscarded = "discarded"
)

// destination is the ordered queue of one destination URL. At most one worker
// goroutine drains it at a time; the worker exits when the queue is empty.
type destination struct {
	url     string
	queue   []*item
	running bool
}

type item struct {
	hookID  int64
	eventID int64
	body    []byte
	event   json.RawMessage
	last    *delivery // the latest failed attempt, marked retried on the next one
}

// enqueue appends it to url's queue and starts its worker. Called with s.mu held.
func (s *Service) enqueue(url string, it *item) {
	d := s.dests[url]
	if d == nil {
		d = &destination{url: url}
		s.dests[url] = d
	}
	d.queue = append(d.queue, it)
	if !d.running {
		d.running = true
		s.wg.Add(1)
		go s.drain(d)
	}
}

// drain delivers d's queue in order until it is empty or the Service closes.
func (s *Service) drain(d *destination) {
	defer s.wg.Done()
	failures := 0
	var failingSince time.Time
	for {
		s.mu.Lock()
		if s.closed || len(d.queue) == 0 {
			d.running = false
			if len(d.queue) == 0 {
				delete(s.dests, d.url)
			}
			s.mu.Unlock()
			return
		}
		it := d.queue[0]
		h := s.hooks[it.hookID]
		if h == nil { // hook deleted: its events are dropped
			d.queue = d.queue[1:]
			s.mu.Unlock()
			continue
		}
		url := h.DestinationURL
		headers := make(map[string]string, len(h.Headers))
		for k, v := range h.Headers {
			headers[k] = v
		}
		if it.last != nil {
			it.last.Outcome = outcomeRetried
		}
		s.mu.Unlock()

		rec := &delivery{EventID: it.eventID, Event: it.event, StartedAt: s.cfg.Now().UTC()}
		s.post(url, headers, it.body, rec)
		rec.CompletedAt = s.cfg.Now().UTC()
		if s.ctx.Err() != nil { // closing: the attempt was cancelled, not answered
			return
		}
		ok := rec.ResponseError == nil && rec.ResponseStatus >= 200 && rec.ResponseStatus < 300

		s.mu.Lock()
		if ok {
			rec.Outcome = outcomeOK
			s.record(it.hookID, rec)
			d.queue = d.queue[1:]
			failures = 0
			s.mu.Unlock()
			continue
		}
		if failures == 0 {
			failingSince = rec.StartedAt
		}
		failures++
		if rec.CompletedAt.Sub(failingSince) >= s.cfg.DiscardAfter {
			rec.Outcome = outcomeDiscarded
			s.record(it.hookID, rec)
			for _, rest := range d.queue[1:] {
				s.record(rest.hookID, &delivery{
					EventID: rest.eventID, Event: rest.event,
					StartedAt: rec.CompletedAt, CompletedAt: rec.CompletedAt,
					Outcome: outcomeDiscarded,
				})
			}
			d.queue = nil
			failures = 0
			s.mu.Unlock()
			continue
		}
		rec.Outcome = outcomeFailed
		s.record(it.hookID, rec)
		it.last = rec
		wait := s.backoff(failures)
		s.mu.Unlock()

		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// backoff is the wait before retry n (1-based): MinBackoff doubling, plus up
// to a quarter of itself as jitter, capped at MaxBackoff. Called with s.mu held.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	if d > s.cfg.MaxBackoff {
		d = s.cfg.MaxBackoff
	}
	d += time.Duration(s.rng.Int64N(int64(d)/4 + 1))
	if d > s.cfg.MaxBackoff {
		d = s.cfg.MaxBackoff
	}
	return d
}

// record appends rec to the hook's log with the next delivery id. Called with
// s.mu held; a deleted hook's records are dropped.
func (s *Service) record(hookID int64, rec *delivery) {
	h := s.hooks[hookID]
	if h == nil {
		return
	}
	rec.ID = s.nextDeliveryID
	s.nextDeliveryID++
	h.log = append(h.log, rec)
	if len(h.log) > maxLogPerHook {
		h.log = append(h.log[:0:0], h.log[len(h.log)-maxLogPerHook:]...)
	}
}

const maxRecordedBody = 4 << 10

// post sends one delivery and fills rec's response fields.
func (s *Service) post(url string, headers map[string]string, body []byte, rec *delivery) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		msg := err.Error()
		rec.ResponseError = &msg
		return
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		msg := err.Error()
		rec.ResponseError = &msg
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	rec.ResponseStatus = resp.StatusCode
	rec.ResponseHeaders = make(map[string]string, len(resp.Header))
	for k := range resp.Header {
		rec.ResponseHeaders[k] = resp.Header.Get(k)
	}
	text := string(b)
	rec.ResponseBody = &text
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := "unexpected status " + strconv.Itoa(resp.StatusCode)
		rec.ResponseError = &msg
	}
}
