{{/* Labels of every object of the chart. */}}
{{- define "jenkins.labels" -}}
app.kubernetes.io/name: jenkins
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: drover
{{- end }}

{{/* The labels the StatefulSet and the Service select the controller pod by. */}}
{{- define "jenkins.selectorLabels" -}}
app.kubernetes.io/name: jenkins
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The in-cluster host name of the Service. */}}
{{- define "jenkins.host" -}}
jenkins.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}
