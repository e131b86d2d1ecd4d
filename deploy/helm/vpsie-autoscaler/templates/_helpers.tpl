{{/* The name of every object (as in deploy/). */}}
{{- define "vpsie-autoscaler.name" -}}vpsie-autoscaler{{- end -}}

{{/* The labels of every object and the selector of the pods. */}}
{{- define "vpsie-autoscaler.labels" -}}
app.kubernetes.io/name: vpsie-autoscaler
{{- end -}}

{{/* The image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "vpsie-autoscaler.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
