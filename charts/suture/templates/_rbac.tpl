{{- /*
suture.rules: a list of rule entries ({apiGroup, resource, verbs}) merged as suture.rbac.merge_rules
merges them: verbs unioned per (apiGroup, resource), then resources of one group with the same verbs
share a rule, in a stable order. Returns the rules as JSON (read back with fromJsonArray).
*/ -}}
{{- define "suture.rules" -}}
{{- $byResource := dict -}}
{{- range . -}}
{{- $key := printf "%s %s" .apiGroup .resource -}}
{{- $old := list -}}
{{- if hasKey $byResource $key }}{{ $old = (get $byResource $key).verbs }}{{ end -}}
{{- $_ := set $byResource $key (dict "group" .apiGroup "resource" .resource "verbs" (concat $old .verbs | uniq | sortAlpha)) -}}
{{- end -}}
{{- $byVerbs := dict -}}
{{- range $key := keys $byResource | sortAlpha -}}
{{- $e := get $byResource $key -}}
{{- $gkey := printf "%s %s" $e.group (join " " $e.verbs) -}}
{{- $old := list -}}
{{- if hasKey $byVerbs $gkey }}{{ $old = (get $byVerbs $gkey).resources }}{{ end -}}
{{- $_ := set $byVerbs $gkey (dict "group" $e.group "verbs" $e.verbs "resources" (append $old $e.resource)) -}}
{{- end -}}
{{- $rules := list -}}
{{- range $gkey := keys $byVerbs | sortAlpha -}}
{{- $r := get $byVerbs $gkey -}}
{{- $rules = append $rules (dict "apiGroups" (list $r.group) "resources" $r.resources "verbs" $r.verbs) -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}

{{- /*
suture.rbacPlan: which actions are enabled and every rule entry they and the operator need, as JSON
{actions, entries, own, clusterScoped}. The rules come from files/rbac-rules.yaml, written by
`make chart` from suture.rbac (the code behind `suture rbac`).
*/ -}}
{{- define "suture.rbacPlan" -}}
{{- $generated := .Files.Get "files/rbac-rules.yaml" | fromYaml -}}
{{- $known := $generated.actions -}}
{{- range concat .Values.actions.enabled .Values.actions.disabled -}}
{{- if not (has . $known) -}}
{{- fail (printf "actions: unknown action %q; the built-in actions are: %s" . (join ", " $known)) -}}
{{- end -}}
{{- end -}}
{{- $chosen := $known -}}
{{- if .Values.actions.enabled -}}
{{- $chosen = .Values.actions.enabled | uniq -}}
{{- end -}}
{{- range .Values.actions.disabled -}}
{{- $chosen = without $chosen . -}}
{{- end -}}
{{- $entries := $generated.operator -}}
{{- if .Values.gitops.suspend -}}
{{- $entries = concat $entries $generated.gitopsSuspend -}}
{{- end -}}
{{- range $chosen -}}
{{- $entries = concat $entries (index $generated.byAction .) -}}
{{- end -}}
{{- toJson (dict "actions" ($chosen | sortAlpha) "entries" $entries "own" $generated.own "clusterScoped" $generated.clusterScoped) -}}
{{- end -}}
