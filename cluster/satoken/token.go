package satoken

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is the iss of bound tokens and the API server's audience, as Kubernetes' default
// --service-account-issuer (kubeadm's) and --api-audiences.
const Issuer = "https://kubernetes.default.svc.cluster.local"

// LegacyIssuer is the iss of the tokens of kubernetes.io/service-account-token Secrets.
const LegacyIssuer = "kubernetes/serviceaccount"

// Ref names an object a token is bound to.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Private is the "kubernetes.io" claim of bound tokens.
type Private struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
}

// Claims are what a bound token says.
type Claims struct {
	jwt.Claims
	Kubernetes *Private `json:"kubernetes.io,omitempty"`
	// The legacy token's claims (LegacyIssuer).
	LegacyNamespace string `json:"kubernetes.io/serviceaccount/namespace,omitempty"`
	LegacySecret    string `json:"kubernetes.io/serviceaccount/secret.name,omitempty"`
	LegacyName      string `json:"kubernetes.io/serviceaccount/service-account.name,omitempty"`
	LegacyUID       string `json:"kubernetes.io/serviceaccount/service-account.uid,omitempty"`
}

// Subject is the user name of a ServiceAccount: system:serviceaccount:NS:NAME.
func Subject(ns, name string) string { return "system:serviceaccount:" + ns + ":" + name }

// Groups are the groups of a ServiceAccount of namespace ns.
func Groups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// Signer signs and verifies tokens with one key.
type Signer struct {
	public crypto.PublicKey
	signer jose.Signer
}

// NewSigner makes a Signer of key (ECDSA P-256: ES256, RSA: RS256).
func NewSigner(key crypto.Signer) (*Signer, error) {
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	alg := jose.RS256
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("service account token signer: %w", err)
	}
	return &Signer{public: key.Public(), signer: s}, nil
}

// Bound is a token for a TokenRequest.
type Bound struct {
	Namespace, Name, UID string // the ServiceAccount
	Audiences            []string
	Pod, Secret          *Ref // at most one
	Now                  time.Time
	Expiration           time.Duration
	ID                   string // jti
}

// Sign signs a bound token.
func (s *Signer) Sign(b Bound) (string, error) {
	now := jwt.NewNumericDate(b.Now)
	c := Claims{
		Claims: jwt.Claims{Issuer: Issuer, Subject: Subject(b.Namespace, b.Name), Audience: b.Audiences,
			IssuedAt: now, NotBefore: now, Expiry: jwt.NewNumericDate(b.Now.Add(b.Expiration)), ID: b.ID},
		Kubernetes: &Private{Namespace: b.Namespace, ServiceAccount: Ref{Name: b.Name, UID: b.UID}, Pod: b.Pod, Secret: b.Secret},
	}
	return jwt.Signed(s.signer).Claims(c).Serialize()
}

// SignLegacy signs the never-expiring token of a kubernetes.io/service-account-token Secret.
func (s *Signer) SignLegacy(ns, name, uid, secret string) (string, error) {
	c := Claims{Claims: jwt.Claims{Issuer: LegacyIssuer, Subject: Subject(ns, name)},
		LegacyNamespace: ns, LegacySecret: secret, LegacyName: name, LegacyUID: uid}
	return jwt.Signed(s.signer).Claims(c).Serialize()
}

// Errors of Verify.
var (
	ErrNotOurs = errors.New("not a service account token of this server")
	ErrExpired = errors.New("service account token has expired")
	ErrInvalid = errors.New("invalid service account token")
)

// Verify checks a token's signature, issuer, time window (for bound tokens) and audience
// (one of audiences) and returns its claims. Tokens that are not JWTs signed by this key
// are ErrNotOurs, so that other authenticators may try them.
func (s *Signer) Verify(raw string, now time.Time, audiences []string) (*Claims, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, ErrNotOurs
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, ErrNotOurs
	}
	var c Claims
	if err := tok.Claims(s.public, &c); err != nil {
		return nil, ErrNotOurs
	}
	switch c.Issuer {
	case LegacyIssuer:
		if c.LegacyNamespace == "" || c.LegacyName == "" || c.LegacySecret == "" || c.Subject != Subject(c.LegacyNamespace, c.LegacyName) {
			return nil, ErrInvalid
		}
		return &c, nil
	case Issuer:
	default:
		return nil, ErrNotOurs
	}
	if c.Kubernetes == nil || c.Kubernetes.Namespace == "" || c.Kubernetes.ServiceAccount.Name == "" ||
		c.Subject != Subject(c.Kubernetes.Namespace, c.Kubernetes.ServiceAccount.Name) {
		return nil, ErrInvalid
	}
	// No leeway: drover's servers share one clock source with their tokens' issuer.
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: now}, 0); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return nil, ErrExpired
		}
		return nil, ErrInvalid
	}
	if c.Expiry == nil {
		return nil, ErrInvalid
	}
	for _, a := range audiences {
		if c.Audience.Contains(a) {
			return &c, nil
		}
	}
	return nil, fmt.Errorf("%w: token audiences %q is invalid for the target audience %q", ErrInvalid, []string(c.Audience), audiences)
}
