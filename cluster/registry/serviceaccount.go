package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// saResource describes the serviceaccounts resource.
func saResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "serviceaccounts", Kind: "ServiceAccount", SingularName: "serviceaccount",
		ShortNames: []string{"sa"}, Namespaced: true,
		// token: authentication.k8s.io/v1 TokenRequest, served by the API server's signer.
		Subresources: []string{"token"},
		New:          func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:      func() runtime.Object { return &corev1.ServiceAccountList{} },
		Table:        saTable(),
	}
}

// saTable prints service accounts: NAME SECRETS AGE.
func saTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			sa, ok := obj.(*corev1.ServiceAccount)
			if !ok {
				return nil, fmt.Errorf("serviceaccount table: unexpected object %T", obj)
			}
			return []interface{}{sa.Name, int64(len(sa.Secrets)), translateTimestampSince(sa.CreationTimestamp)}, nil
		},
	}
}
