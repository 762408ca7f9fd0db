//! List options: field selectors (`metadata.name`, `metadata.namespace` and the labels a type
//! adds, e.g. `involvedObject.name` for Events) and paging with `limit` and `continue`.

use serde_json::{Value, json};

use super::types::ResourceType;

/// Field selector terms with `=`, `==` or `!=` on the field labels the type supports.
pub(super) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub(super) fn parse(text: &str, rt: &ResourceType) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text
            .split(',')
            .map(str::trim)
            .filter(|term| !term.is_empty())
        {
            let (field, equal, value) = if let Some((field, value)) = term.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) = term.split_once('=') {
                (field, true, value.strip_prefix('=').unwrap_or(value))
            } else {
                return Err(format!("invalid field selector: `{term}`"));
            };
            if !rt.accepts_field(field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_owned(), equal, value.to_owned()));
        }
        Ok(Self(terms))
    }

    pub(super) fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = field.split('.').fold(object, |node, part| &node[part]);
            let actual = match actual {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

/// `limit` and `continue`: a page of a list and the token for the next one.
pub(super) struct Page {
    limit: Option<usize>,
    offset: usize,
}

const CONTINUE_PREFIX: &str = "capstan-fake:";

impl Page {
    pub(super) fn parse(limit: Option<&str>, token: Option<&str>) -> Result<Self, String> {
        let limit = match limit {
            None | Some("0") => None,
            Some(limit) => Some(
                limit
                    .parse::<usize>()
                    .map_err(|_| format!("invalid limit `{limit}`"))?,
            ),
        };
        let offset = match token.filter(|token| !token.is_empty()) {
            None => 0,
            Some(token) => token
                .strip_prefix(CONTINUE_PREFIX)
                .and_then(|offset| offset.parse().ok())
                .ok_or_else(|| {
                    "continue key is not valid: it was not issued by this server".to_owned()
                })?,
        };
        Ok(Self { limit, offset })
    }

    pub(super) fn render(
        &self,
        rt: &ResourceType,
        items: &[&Value],
        resource_version: u64,
    ) -> Value {
        let rest = items.get(self.offset..).unwrap_or_default();
        let end = self.limit.map_or(rest.len(), |limit| limit.min(rest.len()));
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if end < rest.len() {
            metadata["continue"] = json!(format!("{CONTINUE_PREFIX}{}", self.offset + end));
            metadata["remainingItemCount"] = json!(rest.len() - end);
        }
        json!({
            "apiVersion": rt.api_version(),
            "kind": rt.list_kind,
            "metadata": metadata,
            "items": &rest[..end],
        })
    }
}
