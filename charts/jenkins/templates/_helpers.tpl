{{/* Labels of every object of the chart. */}}
{{- define "jenkins.labels" -}}
app.kubernetes.io/name: jenkins
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: drover
{{- end }}

{{/* The in-cluster host name of the Service. */}}
{{- define "jenkins.host" -}}
jenkins.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}
