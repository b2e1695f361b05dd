package apiserver

import (
	"context"
	"crypto/subtle"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"
	bootstraptokens "k8s.io/cluster-bootstrap/util/tokens"
)

// bootstrapTokenUser authenticates a bootstrap token (ID.SECRET) as Kubernetes' bootstrap
// token authenticator does: the Secret kube-system/bootstrap-token-ID of type
// bootstrap.kubernetes.io/token holds the same token-id and token-secret, is not being
// deleted, not past its expiration and has usage-bootstrap-authentication "true"; the user
// is system:bootstrap:ID in system:bootstrappers and the Secret's auth-extra-groups. ok is
// false (and err nil) for a token that is not a valid bootstrap token, so that the other
// authenticators may try it; err is a store failure.
func (s *Server) bootstrapTokenUser(ctx context.Context, tok string) (user.Info, bool, error) {
	id, secret, err := bootstraptokens.ParseToken(tok)
	if err != nil {
		return nil, false, nil
	}
	obj, _, err := s.getObject(ctx, s.lookup(secretsGVR), "kube-system", bootstrapapi.BootstrapTokenSecretPrefix+id)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	sec := obj.(*corev1.Secret)
	switch {
	case sec.DeletionTimestamp != nil, sec.Type != corev1.SecretType(bootstrapapi.SecretTypeBootstrapToken), sec.Data == nil:
		return nil, false, nil
	case subtle.ConstantTimeCompare([]byte(bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenSecretKey)), []byte(secret)) != 1:
		return nil, false, nil
	case bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenIDKey) != id:
		return nil, false, nil
	case bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenUsageAuthentication) != "true":
		return nil, false, nil
	}
	if _, expired := bootstrapsecret.GetExpiration(sec, s.now()); expired {
		s.log.Debug("bootstrap token expired", "id", id)
		return nil, false, nil
	}
	groups, err := bootstrapsecret.GetGroups(sec)
	if err != nil {
		return nil, false, nil
	}
	return &user.DefaultInfo{Name: bootstrapapi.BootstrapUserPrefix + id, Groups: groups}, true, nil
}
