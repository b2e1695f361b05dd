package jenkinstest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

const (
	cookieName = "JSESSIONID.fake"
	crumbField = "Jenkins-Crumb"
	noCrumb    = "No valid crumb was included in the request"
)

type user struct {
	password string
	token    string
}

type session struct {
	user  string
	crumb string
}

// AddUser lets name log in with password (POSTs then need a crumb) or with
// the API token (no crumb needed).
func (s *Server) AddUser(name, password, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = user{password: password, token: token}
}

type authKind int

const (
	anonymous authKind = iota
	byPassword
	byToken
)

// authenticate checks basic auth and, for POSTs not made with an API token,
// the crumb and the session cookie it was issued with.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Jenkins", Version)
		s.mu.Lock()
		if len(s.requests) >= maxRequests { // a long-running fakejenkins keeps the latest only
			s.requests = append(s.requests[:0], s.requests[maxRequests/2:]...)
		}
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		name, kind, ok := s.login(r)
		crumbOK := kind == byToken || r.Method != http.MethodPost || s.validCrumb(r, name)
		s.mu.Unlock()
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", `Basic realm="Jenkins"`)
			http.Error(w, "Invalid password/token for user: "+name, http.StatusUnauthorized)
		case !crumbOK:
			http.Error(w, noCrumb, http.StatusForbidden)
		default:
			if kind != anonymous {
				r = r.WithContext(context.WithValue(r.Context(), userKey{}, name))
			}
			if r.Method != http.MethodGet {
				s.mu.Lock()
				s.dirty = true
				s.mu.Unlock()
			}
			next.ServeHTTP(w, r)
			s.flush()
		}
	})
}

// maxRequests bounds the request log Requests returns.
const maxRequests = 100000

type userKey struct{}

// requestUser is the authenticated user of r; "" for anonymous.
func requestUser(r *http.Request) string {
	name, _ := r.Context().Value(userKey{}).(string)
	return name
}

func (s *Server) login(r *http.Request) (string, authKind, bool) {
	name, secret, has := r.BasicAuth()
	if !has {
		return "", anonymous, true
	}
	u, known := s.users[name]
	switch {
	case !known:
		return name, anonymous, false
	case u.token != "" && hmac.Equal([]byte(secret), []byte(u.token)):
		return name, byToken, true
	case u.password != "" && hmac.Equal([]byte(secret), []byte(u.password)):
		return name, byPassword, true
	}
	return name, anonymous, false
}

func (s *Server) validCrumb(r *http.Request, name string) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	sess, ok := s.sessions[c.Value]
	got := r.Header.Get(crumbField)
	return ok && sess.user == name && got != "" && hmac.Equal([]byte(got), []byte(sess.crumb))
}

func (s *Server) crumbIssuer(w http.ResponseWriter, r *http.Request) {
	name, _, _ := r.BasicAuth()
	s.mu.Lock()
	id := ""
	if c, err := r.Cookie(cookieName); err == nil {
		if sess, ok := s.sessions[c.Value]; ok && sess.user == name {
			id = c.Value
		}
	}
	if id == "" {
		id = randomHex()
		s.sessions[id] = session{user: name, crumb: randomHex()}
	}
	crumb := s.sessions[id].crumb
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true})
	writeJSON(w, r, map[string]any{
		"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": crumb, "crumbRequestField": crumbField,
	})
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Secret is the agent secret of node name: an HMAC of the name, so a node
// re-created with the same name gets the same secret.
func (s *Server) Secret(name string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(name))
	return hex.EncodeToString(m.Sum(nil))
}
