package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// listOptions are a list request's resourceVersion, resourceVersionMatch, limit and continue,
// validated as Kubernetes' ValidateListOptions does.
type listOptions struct {
	rv       string // as given
	rvNum    int64  // parsed rv (0 for "" and "0")
	match    metav1.ResourceVersionMatch
	limit    int64
	cont     string // the continue token as given
	startKey string // decoded from cont: the first store key of this page
	contRV   int64  // decoded from cont: the list's revision (-1: the newest)
}

func parseListOptions(r *http.Request, keyPrefix string) (*listOptions, error) {
	q := r.URL.Query()
	o := &listOptions{rv: q.Get("resourceVersion"), match: metav1.ResourceVersionMatch(q.Get("resourceVersionMatch")), cont: q.Get("continue")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest("limit: invalid value %q", v)
		}
		o.limit = max(n, 0)
	}
	if o.rv != "" {
		n, err := strconv.ParseInt(o.rv, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", field.ErrorList{
				field.Invalid(field.NewPath("resourceVersion"), o.rv, "must be a non-negative integer")})
		}
		o.rvNum = n
	}
	var errs field.ErrorList
	matchPath := field.NewPath("resourceVersionMatch")
	switch o.match {
	case "":
	case metav1.ResourceVersionMatchExact, metav1.ResourceVersionMatchNotOlderThan:
		switch {
		case o.rv == "":
			errs = append(errs, field.Forbidden(matchPath, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
		case o.cont != "":
			errs = append(errs, field.Forbidden(matchPath, "resourceVersionMatch is forbidden when continue is provided"))
		case o.match == metav1.ResourceVersionMatchExact && o.rv == "0":
			errs = append(errs, field.Forbidden(matchPath, `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`))
		}
	default:
		errs = append(errs, field.NotSupported(matchPath, o.match, []string{string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan), ""}))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", errs)
	}
	if o.cont != "" {
		if o.rv != "" && o.rv != "0" {
			return nil, badRequest("specifying resource version is not allowed when using continue")
		}
		key, rv, err := decodeContinue(o.cont, keyPrefix)
		if err != nil {
			return nil, badRequest("invalid continue token: %v", err)
		}
		o.startKey, o.contRV = key, rv
	}
	return o, nil
}

// exact reports whether the list must be served at exactly rvNum: resourceVersionMatch=Exact,
// or the legacy form (a resourceVersion other than "0" with a limit and no match).
func (o *listOptions) exact() bool {
	return o.match == metav1.ResourceVersionMatchExact ||
		(o.match == "" && o.limit > 0 && o.rv != "" && o.rv != "0")
}

// continueToken is Kubernetes' continue token (k8s.io/apiserver/pkg/storage/continue.go):
// base64url(JSON) of the list's revision and the key to start at, relative to the resource's
// key prefix. rv -1 continues at the newest revision (the token of a 410).
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

func encodeContinue(key, keyPrefix string, rv int64) (string, error) {
	next := strings.TrimPrefix(key, keyPrefix)
	if next == key {
		return "", fmt.Errorf("unable to encode next field: the key and key prefix do not match")
	}
	b, err := json.Marshal(&continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rv, StartKey: next})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeContinue(value, keyPrefix string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return "", 0, fmt.Errorf("continue key is not valid: %v", err)
	}
	var c continueToken
	if err := json.Unmarshal(b, &c); err != nil {
		return "", 0, fmt.Errorf("continue key is not valid: %v", err)
	}
	if c.APIVersion != "meta.k8s.io/v1" {
		return "", 0, fmt.Errorf("continue key is not valid: server does not recognize this encoded key")
	}
	if c.ResourceVersion == 0 {
		return "", 0, fmt.Errorf("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if c.StartKey == "" {
		return "", 0, fmt.Errorf("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
	}
	// As Kubernetes: a cleaned path cannot range above the resource's prefix.
	key := c.StartKey
	if !strings.HasPrefix(key, "/") {
		key = "/" + key
	}
	if cleaned := path.Clean(key); cleaned != key {
		return "", 0, fmt.Errorf("continue key is not valid: %s", c.StartKey)
	}
	return keyPrefix + key[1:], c.ResourceVersion, nil
}

// Kubernetes' texts (k8s.io/apiserver/pkg/storage/etcd3/errors.go).
const (
	listExpired          = "The resourceVersion for the provided list is too old."
	inconsistentContinue = "The provided continue parameter is too old " +
		"to display a consistent list result. You can start a new list without " +
		"the continue parameter, or use the continue token in this response to " +
		"retrieve the remainder of the results. Continuing with the provided " +
		"token results in an inconsistent list - objects that were created, " +
		"modified, or deleted between the time the first chunk was returned " +
		"and now may show up in the list."
)

// continueExpired is the 410 of a continue token whose revision is gone, carrying a token
// that continues from the same key at the newest revision.
func continueExpired(startKey, keyPrefix string) error {
	token, err := encodeContinue(startKey, keyPrefix, -1)
	if err != nil {
		return apierrors.NewResourceExpired(listExpired)
	}
	se := apierrors.NewResourceExpired(inconsistentContinue)
	se.ErrStatus.ListMeta.Continue = token
	return se
}

// pageMeta is what a page adds to its list's metadata.
type pageMeta struct {
	cont      string
	remaining *int64
}

// page cuts n keys (sorted) to one page of limit items: it returns how many are in the page
// and the page's continue and remainingItemCount (counted only when every item counts, as
// Kubernetes sets it only without selectors).
func page(keys []string, limit int64, keyPrefix string, rev int64, counted bool) (int, pageMeta, error) {
	if limit <= 0 || int64(len(keys)) <= limit {
		return len(keys), pageMeta{}, nil
	}
	token, err := encodeContinue(keys[limit-1]+"\x00", keyPrefix, rev)
	if err != nil {
		return 0, pageMeta{}, err
	}
	pm := pageMeta{cont: token}
	if counted {
		n := int64(len(keys)) - limit
		pm.remaining = &n
	}
	return int(limit), pm, nil
}
