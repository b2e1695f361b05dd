package registry

import (
	"fmt"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	flowcontrolv1beta3 "k8s.io/api/flowcontrol/v1beta3"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	"k8s.io/apiserver/pkg/util/shufflesharding"
	"k8s.io/utils/ptr"
)

// Kubernetes' v1 defaults for priority levels.
const (
	plcDefaultNominalConcurrencyShares int32 = 30
	plcDefaultHandSize                 int32 = 8
	plcDefaultQueues                   int32 = 64
	plcDefaultQueueLengthLimit         int32 = 50
	plcMaxQueues                       int32 = 10 * 1000 * 1000
)

// plcResource describes the flowcontrol.apiserver.k8s.io/v1 prioritylevelconfigurations
// resource: stored, validated and watched, and inert, as flowSchemaResource says.
func plcResource() *Resource {
	return &Resource{
		Group: FlowcontrolGroup, Version: "v1", Resource: "prioritylevelconfigurations", Kind: "PriorityLevelConfiguration",
		SingularName: "prioritylevelconfiguration",
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &flowcontrolv1.PriorityLevelConfiguration{} },
		NewList: func() runtime.Object { return &flowcontrolv1.PriorityLevelConfigurationList{} },
		Default: func(obj runtime.Object) { plcDefault(obj.(*flowcontrolv1.PriorityLevelConfiguration)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*flowcontrolv1.PriorityLevelConfiguration).Status = flowcontrolv1.PriorityLevelConfigurationStatus{}
		},
		PrepareForSubresourceUpdate: func(_ string, obj, old runtime.Object) {
			flowcontrolKeepMeta(&obj.(*flowcontrolv1.PriorityLevelConfiguration).ObjectMeta, &old.(*flowcontrolv1.PriorityLevelConfiguration).ObjectMeta)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return plcValidate(obj.(*flowcontrolv1.PriorityLevelConfiguration))
		},
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return plcValidate(obj.(*flowcontrolv1.PriorityLevelConfiguration))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return plcValidateStatus(&obj.(*flowcontrolv1.PriorityLevelConfiguration).Status, field.NewPath("status"))
		},
		Table: plcTable(),
	}
}

// plcDefault is Kubernetes' v1 SetObjectDefaults_PriorityLevelConfiguration: a limited level
// gets nominalConcurrencyShares 30 and lendablePercent 0, its queuing 8 of 64 queues of 50;
// an exempt level shares 0 and lends 0.
func plcDefault(pl *flowcontrolv1.PriorityLevelConfiguration) {
	if l := pl.Spec.Limited; l != nil {
		if l.NominalConcurrencyShares == nil {
			l.NominalConcurrencyShares = ptr.To(plcDefaultNominalConcurrencyShares)
		}
		if l.LendablePercent == nil {
			l.LendablePercent = ptr.To[int32](0)
		}
		if q := l.LimitResponse.Queuing; q != nil {
			if q.HandSize == 0 {
				q.HandSize = plcDefaultHandSize
			}
			if q.Queues == 0 {
				q.Queues = plcDefaultQueues
			}
			if q.QueueLengthLimit == 0 {
				q.QueueLengthLimit = plcDefaultQueueLengthLimit
			}
		}
	}
	if e := pl.Spec.Exempt; e != nil {
		if e.NominalConcurrencyShares == nil {
			e.NominalConcurrencyShares = ptr.To[int32](0)
		}
		if e.LendablePercent == nil {
			e.LendablePercent = ptr.To[int32](0)
		}
	}
}

// plcMandatory returns Kubernetes' mandatory priority level of that name ("exempt",
// "catch-all"), defaulted, or nil.
func plcMandatory(name string) *flowcontrolv1.PriorityLevelConfiguration {
	for _, pl := range bootstrap.MandatoryPriorityLevelConfigurations {
		if pl.Name == name {
			c := pl.DeepCopy()
			plcDefault(c)
			return c
		}
	}
	return nil
}

// plcValidate is Kubernetes' ValidatePriorityLevelConfiguration for the v1 API: no v1beta3
// round-trip annotation, the spec, a mandatory level's spec equal to its fixed value (but for
// the exempt level's spec.exempt), and the status.
func plcValidate(pl *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
	var errs field.ErrorList
	if _, ok := pl.Annotations[flowcontrolv1beta3.PriorityLevelPreserveZeroConcurrencySharesKey]; ok {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations"),
			fmt.Sprintf("annotation '%s' is forbidden", flowcontrolv1beta3.PriorityLevelPreserveZeroConcurrencySharesKey)))
	}
	p := field.NewPath("spec")
	errs = append(errs, plcValidateSpec(&pl.Spec, pl.Name, p)...)
	if mand := plcMandatory(pl.Name); mand != nil {
		have := pl.Spec.DeepCopy()
		msg := fmt.Sprintf("spec of '%s' must equal the fixed value", pl.Name)
		if pl.Name == flowcontrolv1.PriorityLevelConfigurationNameExempt {
			have.Exempt = mand.Spec.Exempt
			msg = fmt.Sprintf("spec of '%s' except the 'spec.exempt' field must equal the fixed value", pl.Name)
		}
		if !apiequality.Semantic.DeepEqual(&mand.Spec, have) {
			errs = append(errs, field.Invalid(p, pl.Spec, msg))
		}
	}
	return append(errs, plcValidateStatus(&pl.Status, field.NewPath("status"))...)
}

// plcValidateSpec is Kubernetes' ValidatePriorityLevelConfigurationSpec: type Exempt exactly
// for the level named exempt, the member of the type set and the other not.
func plcValidateSpec(spec *flowcontrolv1.PriorityLevelConfigurationSpec, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if (name == flowcontrolv1.PriorityLevelConfigurationNameExempt) != (spec.Type == flowcontrolv1.PriorityLevelEnablementExempt) {
		errs = append(errs, field.Invalid(p.Child("type"), spec.Type, "type must be 'Exempt' if and only if name is 'exempt'"))
	}
	switch spec.Type {
	case flowcontrolv1.PriorityLevelEnablementExempt:
		if spec.Limited != nil {
			errs = append(errs, field.Forbidden(p.Child("limited"), "must be nil if the type is not Limited"))
		}
		if e := spec.Exempt; e != nil {
			ep := p.Child("exempt")
			if e.NominalConcurrencyShares != nil && *e.NominalConcurrencyShares < 0 {
				errs = append(errs, field.Invalid(ep.Child("nominalConcurrencyShares"), *e.NominalConcurrencyShares, "must be a non-negative integer"))
			}
			errs = append(errs, plcValidateLendable(e.LendablePercent, ep.Child("lendablePercent"))...)
		}
	case flowcontrolv1.PriorityLevelEnablementLimited:
		if spec.Exempt != nil {
			errs = append(errs, field.Forbidden(p.Child("exempt"), "must be nil if the type is Limited"))
		}
		if spec.Limited == nil {
			errs = append(errs, field.Required(p.Child("limited"), "must not be empty when type is Limited"))
		} else {
			errs = append(errs, plcValidateLimited(spec.Limited, p.Child("limited"))...)
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), spec.Type,
			[]string{string(flowcontrolv1.PriorityLevelEnablementExempt), string(flowcontrolv1.PriorityLevelEnablementLimited)}))
	}
	return errs
}

func plcValidateLendable(v *int32, p *field.Path) field.ErrorList {
	if v != nil && (*v < 0 || *v > 100) {
		return field.ErrorList{field.Invalid(p, *v, "must be between 0 and 100, inclusive")}
	}
	return nil
}

// plcValidateLimited is Kubernetes' ValidateLimitedPriorityLevelConfiguration and
// ValidateLimitResponse: shares not negative, percentages in range, queuing exactly for
// type Queue, with a hand no bigger than the deck and within 60 bits of entropy.
func plcValidateLimited(l *flowcontrolv1.LimitedPriorityLevelConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if n := l.NominalConcurrencyShares; n != nil && *n < 0 {
		errs = append(errs, field.Invalid(p.Child("nominalConcurrencyShares"), *n, "must be a non-negative integer"))
	}
	rp := p.Child("limitResponse")
	switch l.LimitResponse.Type {
	case flowcontrolv1.LimitResponseTypeReject:
		if l.LimitResponse.Queuing != nil {
			errs = append(errs, field.Forbidden(rp.Child("queuing"), "must be nil if limited.limitResponse.type is not Limited"))
		}
	case flowcontrolv1.LimitResponseTypeQueue:
		if q := l.LimitResponse.Queuing; q == nil {
			errs = append(errs, field.Required(rp.Child("queuing"), "must not be empty if limited.limitResponse.type is Limited"))
		} else {
			errs = append(errs, plcValidateQueuing(q, rp.Child("queuing"))...)
		}
	default:
		errs = append(errs, field.NotSupported(rp.Child("type"), l.LimitResponse.Type,
			[]string{string(flowcontrolv1.LimitResponseTypeQueue), string(flowcontrolv1.LimitResponseTypeReject)}))
	}
	errs = append(errs, plcValidateLendable(l.LendablePercent, p.Child("lendablePercent"))...)
	if b := l.BorrowingLimitPercent; b != nil && *b < 0 {
		errs = append(errs, field.Invalid(p.Child("borrowingLimitPercent"), *b, "if specified, must be a non-negative integer"))
	}
	return errs
}

// plcValidateQueuing is Kubernetes' ValidatePriorityLevelQueuingConfiguration.
func plcValidateQueuing(q *flowcontrolv1.QueuingConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.QueueLengthLimit <= 0 {
		errs = append(errs, field.Invalid(p.Child("queueLengthLimit"), q.QueueLengthLimit, "must be positive"))
	}
	if q.Queues <= 0 {
		errs = append(errs, field.Invalid(p.Child("queues"), q.Queues, "must be positive"))
	} else if q.Queues > plcMaxQueues {
		errs = append(errs, field.Invalid(p.Child("queues"), q.Queues, fmt.Sprintf("must not be greater than %d", plcMaxQueues)))
	}
	hp := p.Child("handSize")
	switch {
	case q.HandSize <= 0:
		errs = append(errs, field.Invalid(hp, q.HandSize, "must be positive"))
	case q.HandSize > q.Queues:
		errs = append(errs, field.Invalid(hp, q.HandSize, fmt.Sprintf("should not be greater than queues (%d)", q.Queues)))
	case shufflesharding.RequiredEntropyBits(int(q.Queues), int(q.HandSize)) > shufflesharding.MaxHashBits:
		errs = append(errs, field.Invalid(hp, q.HandSize, fmt.Sprintf("required entropy bits of deckSize %d and handSize %d should not be greater than %d",
			q.Queues, q.HandSize, shufflesharding.MaxHashBits)))
	}
	return errs
}

// plcValidateStatus is Kubernetes' ValidatePriorityLevelConfigurationStatus.
func plcValidateStatus(st *flowcontrolv1.PriorityLevelConfigurationStatus, p *field.Path) field.ErrorList {
	types := make([]string, len(st.Conditions))
	for i, c := range st.Conditions {
		types[i] = string(c.Type)
	}
	return flowcontrolValidateConditionTypes(types, p.Child("conditions"))
}

// plcTable prints priority levels as Kubernetes' printPriorityLevelConfiguration: NAME TYPE
// NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT AGE.
func plcTable() *Table {
	queuing := flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Type", "string", flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"], 0),
			column("NominalConcurrencyShares", "string", flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()["nominalConcurrencyShares"], 0),
			column("Queues", "string", queuing["queues"], 0),
			column("HandSize", "string", queuing["handSize"], 0),
			column("QueueLengthLimit", "string", queuing["queueLengthLimit"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pl, ok := obj.(*flowcontrolv1.PriorityLevelConfiguration)
			if !ok {
				return nil, fmt.Errorf("prioritylevelconfiguration table: unexpected object %T", obj)
			}
			var ncs, queues, handSize, queueLengthLimit interface{} = "<none>", "<none>", "<none>", "<none>"
			if l := pl.Spec.Limited; l != nil {
				if l.NominalConcurrencyShares != nil {
					ncs = int64(*l.NominalConcurrencyShares)
				}
				if q := l.LimitResponse.Queuing; q != nil {
					queues, handSize, queueLengthLimit = int64(q.Queues), int64(q.HandSize), int64(q.QueueLengthLimit)
				}
			}
			return []interface{}{pl.Name, string(pl.Spec.Type), ncs, queues, handSize, queueLengthLimit,
				translateTimestampSince(pl.CreationTimestamp)}, nil
		},
	}
}
