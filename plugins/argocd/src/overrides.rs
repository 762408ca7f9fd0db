//! Helm and Kustomize overrides of an application's source, as `argocd app set` makes them:
//! Helm parameters merged by name (`-p name=value`), Helm values replaced (`--values-literal-file`;
//! `valuesObject` is dropped, since it would win over them), Kustomize images merged by image
//! name (`--kustomize-image`). The change is a JSON merge patch of the spec
//! (ApplicationService_Patch, which changes only the fields it names); a multi-source
//! application changes one source, the one `sourcePosition` names or the only one of the
//! right kind. The patch that undoes the change goes with it.

use capstan_sdk::http::Method;
use capstan_sdk::{ToolError, Value, json};

use crate::client::Query;
use crate::params::AppRef;
use crate::summary::text;

/// The JSON Schema of the override arguments.
pub(crate) fn properties() -> Value {
    json!({
        "helmParameters": {"type": "array", "maxItems": 50,
            "items": {"type": "object", "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 256},
                "value": {"type": "string", "maxLength": 4096},
                "forceString": {"type": "boolean"}},
                "required": ["name", "value"], "additionalProperties": false},
            "description": "Helm parameters to set before syncing (`argocd app set -p name=value`), merged by name into the source's parameters."},
        "helmValues": {"type": "string", "maxLength": 65536,
            "description": "Helm values (YAML) to set before syncing; they replace the source's inline values (and its valuesObject)."},
        "kustomizeImages": {"type": "array", "maxItems": 50,
            "items": {"type": "string", "minLength": 1, "maxLength": 512},
            "description": "Kustomize image overrides to set before syncing (`argocd app set --kustomize-image`), e.g. `ghcr.io/org/app:1.4.2` or `app=ghcr.io/org/app:1.4.2`; merged by image name."},
        "sourcePosition": {"type": "integer", "minimum": 1, "maximum": 20,
            "description": "For a multi-source application: the 1-based position of the source to change (default: the only Helm or Kustomize source)."},
    })
}

/// A requested change of the source.
pub(crate) struct Change {
    parameters: Vec<Value>,
    values: Option<String>,
    images: Vec<String>,
}

impl Change {
    /// The change the arguments ask for, if any.
    pub(crate) fn from(arguments: &Value) -> Result<Option<Self>, ToolError> {
        let parameters = arguments["helmParameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let values = arguments["helmValues"].as_str().map(str::to_owned);
        let images: Vec<String> = arguments["kustomizeImages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|image| image.as_str().map(str::to_owned))
            .collect();
        let change = Self {
            parameters,
            values,
            images,
        };
        if change.helm() && !change.images.is_empty() {
            return Err(ToolError::new(
                "pass either Helm changes (helmParameters, helmValues) or kustomizeImages: a source is rendered by Helm or by Kustomize, not both",
            ));
        }
        Ok((change.helm() || !change.images.is_empty()).then_some(change))
    }

    fn helm(&self) -> bool {
        !self.parameters.is_empty() || self.values.is_some()
    }

    /// `Helm` or `Kustomize`: the kind of source the change applies to.
    fn kind(&self) -> &'static str {
        if self.helm() { "Helm" } else { "Kustomize" }
    }

    /// Applies the change to `source`, returning what changed, in words.
    fn apply_to(&self, source: &mut Value) -> Vec<String> {
        let mut said = Vec::new();
        if self.helm() {
            if !source["helm"].is_object() {
                source["helm"] = json!({});
            }
            let helm = &mut source["helm"];
            if !self.parameters.is_empty() {
                let mut list = helm["parameters"].as_array().cloned().unwrap_or_default();
                for parameter in &self.parameters {
                    let name = text(&parameter["name"]);
                    let value = text(&parameter["value"]);
                    match list.iter_mut().find(|p| p["name"] == name) {
                        Some(existing) => {
                            said.push(format!(
                                "helm parameter {name}={value} (was {})",
                                text(&existing["value"])
                            ));
                            existing["value"] = json!(value);
                            if let Some(force) = parameter["forceString"].as_bool() {
                                existing["forceString"] = json!(force);
                            }
                        }
                        None => {
                            said.push(format!("helm parameter {name}={value} (new)"));
                            list.push(parameter.clone());
                        }
                    }
                }
                helm["parameters"] = json!(list);
            }
            if let Some(values) = &self.values {
                helm["values"] = json!(values);
                let lines = values.lines().count();
                let mut words = format!(
                    "helm values replaced ({lines} line{})",
                    if lines == 1 { "" } else { "s" }
                );
                if let Some(map) = helm.as_object_mut()
                    && map.remove("valuesObject").is_some()
                {
                    words.push_str("; valuesObject removed, since it would override them");
                }
                said.push(words);
            }
        } else {
            if !source["kustomize"].is_object() {
                source["kustomize"] = json!({});
            }
            let mut list = source["kustomize"]["images"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for image in &self.images {
                let name = image_name(image);
                match list
                    .iter_mut()
                    .find(|existing| image_name(text(existing)) == name)
                {
                    Some(existing) => {
                        said.push(format!("kustomize image {image} (was {})", text(existing)));
                        *existing = json!(image);
                    }
                    None => {
                        said.push(format!("kustomize image {image} (new)"));
                        list.push(json!(image));
                    }
                }
            }
            source["kustomize"]["images"] = json!(list);
        }
        said
    }
}

/// The image a Kustomize override applies to: the part before `=`, else the image without its
/// tag or digest (a registry port is kept).
fn image_name(image: &str) -> &str {
    if let Some((name, _)) = image.split_once('=') {
        return name;
    }
    let name = image.split('@').next().unwrap_or(image);
    match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    }
}

/// A change made to the spec.
pub(crate) struct Applied {
    /// What changed, in words, naming the source of a multi-source application.
    pub description: String,
    /// The changed source's 1-based position, for a multi-source application.
    pub position: Option<usize>,
    /// The merge patch (an Application's fields) that undoes the change.
    pub revert: Value,
}

impl Applied {
    /// How an answer reports the change: what, where, and the update_application call that
    /// undoes it.
    pub(crate) fn report(&self, app_ref: &AppRef<'_>, reverted: bool) -> Value {
        let mut undo = json!({"target": app_ref.client.target(), "applicationName": app_ref.name,
                        "application": self.revert});
        if let Some(namespace) = app_ref.namespace {
            undo["applicationNamespace"] = json!(namespace);
        }
        let mut report = json!({"description": self.description, "multiSource": self.position.is_some(),
                                "reverted": reverted});
        if let Some(position) = self.position {
            report["sourcePosition"] = json!(position);
        }
        if !reverted {
            report["undo"] = json!({"tool": "update_application", "arguments": undo});
        }
        report
    }
}

/// The schema of an answer's `change`.
pub(crate) fn report_schema() -> Value {
    json!({"type": "object", "description": "The change made to the application's spec before the sync: what, which source, whether it was reverted, and otherwise `undo`, the update_application call that reverts it.",
           "properties": {"description": {"type": "string"}, "multiSource": {"type": "boolean"},
                          "sourcePosition": {"type": "integer"}, "reverted": {"type": "boolean"},
                          "undo": {"type": "object"}}})
}

/// Applies `change` to the application `app` (as read just before) with a merge patch.
pub(crate) fn apply(
    app_ref: &AppRef<'_>,
    app: &Value,
    change: &Change,
    position: Option<u64>,
) -> Result<Applied, ToolError> {
    let spec = &app["spec"];
    let sources = spec["sources"].as_array().filter(|s| !s.is_empty());
    let Some(sources) = sources else {
        if position.is_some_and(|p| p != 1) {
            return Err(ToolError::new(format!(
                "{} has a single source; leave sourcePosition out",
                app_ref.name
            )));
        }
        let source = &spec["source"];
        check_kind(app_ref, change, source_type(app, source, None), None)?;
        let mut changed = source.clone();
        let said = change.apply_to(&mut changed);
        let field = if change.helm() { "helm" } else { "kustomize" };
        let mut patched = changed[field].clone();
        let touched: &[&str] = if change.helm() {
            &["parameters", "values", "valuesObject"]
        } else {
            &["images"]
        };
        // In a merge patch null removes a field: what was absent is removed again.
        let revert = if source[field].is_object() {
            let mut before = json!({});
            for key in touched {
                before[*key] = source[field].get(*key).cloned().unwrap_or(Value::Null);
                if patched.get(*key).is_none() {
                    patched[*key] = Value::Null;
                }
            }
            before
        } else {
            Value::Null
        };
        let patch = json!({"spec": {"source": {field: patched}}});
        let revert = json!({"spec": {"source": {field: revert}}});
        merge_patch(app_ref, &patch)?;
        return Ok(Applied {
            description: said.join(", "),
            position: None,
            revert,
        });
    };
    let index = match position {
        Some(position) => {
            let index = usize::try_from(position).unwrap_or(usize::MAX) - 1;
            if index >= sources.len() {
                return Err(ToolError::new(format!(
                    "{} has {} sources, so sourcePosition must be 1 to {}: {}",
                    app_ref.name,
                    sources.len(),
                    sources.len(),
                    list_sources(app, sources)
                )));
            }
            check_kind(
                app_ref,
                change,
                source_type(app, &sources[index], Some(index)),
                Some(index),
            )?;
            index
        }
        None => {
            let candidates: Vec<usize> = (0..sources.len())
                .filter(|&i| source_type(app, &sources[i], Some(i)) == Some(change.kind()))
                .collect();
            match candidates.as_slice() {
                [only] => *only,
                _ => {
                    return Err(ToolError::new(format!(
                        "{} is a multi-source application with {} {} sources, so it is not clear which to change: {}. \
                         Pass sourcePosition (1-based) to name the source.",
                        app_ref.name,
                        if candidates.is_empty() {
                            "no".to_owned()
                        } else {
                            candidates.len().to_string()
                        },
                        change.kind(),
                        list_sources(app, sources)
                    )));
                }
            }
        }
    };
    let mut changed = sources.clone();
    let said = change.apply_to(&mut changed[index]);
    let patch = json!({"spec": {"sources": changed}});
    let revert = json!({"spec": {"sources": sources}});
    merge_patch(app_ref, &patch)?;
    Ok(Applied {
        description: format!(
            "{} on source {} of {} ({}) of the multi-source application",
            said.join(", "),
            index + 1,
            sources.len(),
            describe_source(&sources[index])
        ),
        position: Some(index + 1),
        revert,
    })
}

/// Refuses a change for a source of another kind, when Argo CD says what kind it is.
fn check_kind(
    app_ref: &AppRef<'_>,
    change: &Change,
    kind: Option<&str>,
    index: Option<usize>,
) -> Result<(), ToolError> {
    match kind {
        Some(kind) if kind != change.kind() => {
            let which = index.map_or_else(String::new, |i| format!("source {} of ", i + 1));
            let what = if change.helm() {
                "helmParameters and helmValues apply"
            } else {
                "kustomizeImages apply"
            };
            Err(ToolError::new(format!(
                "{which}{} is a {kind} source; {what} to {} sources only",
                app_ref.name,
                change.kind()
            )))
        }
        _ => Ok(()),
    }
}

/// The kind of a source: what Argo CD found (`status.sourceType`, `status.sourceTypes`), else
/// what the source says (a chart or `helm` options, `kustomize` options, a `ref` only).
fn source_type<'a>(app: &'a Value, source: &'a Value, index: Option<usize>) -> Option<&'a str> {
    let status = match index {
        Some(index) => &app["status"]["sourceTypes"][index],
        None => &app["status"]["sourceType"],
    };
    if let Some(kind) = status.as_str().filter(|kind| !kind.is_empty()) {
        return Some(kind);
    }
    if source["chart"].is_string() || source["helm"].is_object() {
        Some("Helm")
    } else if source["kustomize"].is_object() {
        Some("Kustomize")
    } else if source["ref"].is_string() && source["path"].is_null() {
        Some("Ref")
    } else {
        None
    }
}

/// `chart web from https://…`, `path apps/web from …`, `ref values from …`.
fn describe_source(source: &Value) -> String {
    let what = match (
        text(&source["chart"]),
        text(&source["path"]),
        text(&source["ref"]),
    ) {
        (chart, _, _) if !chart.is_empty() => format!("chart {chart}"),
        (_, path, _) if !path.is_empty() => format!("path {path}"),
        (_, _, reference) if !reference.is_empty() => format!("ref {reference}"),
        _ => "the repository root".to_owned(),
    };
    format!("{what} from {}", text(&source["repoURL"]))
}

/// `1: chart web from … (Helm); 2: ref values from … (Ref)`.
fn list_sources(app: &Value, sources: &[Value]) -> String {
    sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let kind = source_type(app, source, Some(i)).unwrap_or("type unknown");
            format!("{}: {} ({kind})", i + 1, describe_source(source))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sends a JSON merge patch of the application (an Application's fields, as update_application
/// takes them) and returns the application as patched.
pub(crate) fn merge_patch(app_ref: &AppRef<'_>, changes: &Value) -> Result<Value, ToolError> {
    let mut body =
        json!({"name": app_ref.name, "patch": changes.to_string(), "patchType": "merge"});
    if let Some(namespace) = app_ref.namespace {
        body["appNamespace"] = json!(namespace);
    }
    app_ref.client.send(
        Method::PATCH,
        &app_ref.path(""),
        &Query::default(),
        Some(&body),
        &app_ref.not_found(),
    )
}

#[cfg(test)]
mod tests {
    use super::image_name;

    #[test]
    fn kustomize_images_match_by_name() {
        assert_eq!(image_name("ghcr.io/org/app:1.2.3"), "ghcr.io/org/app");
        assert_eq!(image_name("registry:5000/app:1.0"), "registry:5000/app");
        assert_eq!(image_name("registry:5000/app"), "registry:5000/app");
        assert_eq!(image_name("app=ghcr.io/org/app:2"), "app");
        assert_eq!(image_name("ghcr.io/org/app@sha256:abc"), "ghcr.io/org/app");
    }
}
