{{- define "suture.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "suture.serviceAccountName" -}}
{{- default (include "suture.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "suture.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "suture.labels" -}}
{{ include "suture.selectorLabels" . }}
app.kubernetes.io/part-of: suture
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "suture.webhookSecret" -}}
{{- default (printf "%s-webhook" (include "suture.fullname" .)) .Values.webhook.existingSecret -}}
{{- end -}}

{{- define "suture.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.database.url.secretName) -}}
{{- fail "replicas > 1 needs database.url.secretName: every replica must share one PostgreSQL database (the embedded SQLite in /data belongs to one pod; a new leader would lose the checkpoints and the run history that cooldowns and rate limits count)" -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) .Values.persistence.enabled -}}
{{- fail "persistence.enabled is for a single replica; with replicas > 1 use database.url" -}}
{{- end -}}
{{- end -}}
