//! Kubernetes label selectors (`app=web,tier!=db,env in (prod,staging),!legacy`), which both
//! Argo CD's `selector` and the Kubernetes API's `labelSelector` parameters take.

use serde_json::{Map, Value};

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Selector {
    /// Parses a selector; the empty string selects everything. The error reads like the
    /// Kubernetes API server's.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let requirements = split_terms(text)?
            .into_iter()
            .map(parse_term)
            .collect::<Result<_, _>>()?;
        Ok(Self { requirements })
    }

    /// Whether an object with these `metadata.labels` is selected.
    pub(crate) fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|requirement| {
            let value = labels
                .and_then(|labels| labels.get(&requirement.key))
                .and_then(Value::as_str);
            requirement.matches(value)
        })
    }
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        let listed = |value: &str| self.values.iter().any(|wanted| wanted == value);
        match (self.op, value) {
            (Op::Exists, value) => value.is_some(),
            (Op::DoesNotExist, value) => value.is_none(),
            (Op::Equals | Op::In, Some(value)) => listed(value),
            (Op::Equals | Op::In, None) => false,
            (Op::NotEquals | Op::NotIn, Some(value)) => !listed(value),
            (Op::NotEquals | Op::NotIn, None) => true,
        }
    }
}

/// Splits on the commas that are not inside `( … )`.
fn split_terms(text: &str) -> Result<Vec<&str>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(|| unparsable(text))?,
            ',' if depth == 0 => {
                terms.push(text[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(text[start..].trim());
    if depth != 0 || terms.iter().any(|term| term.is_empty()) {
        return Err(unparsable(text));
    }
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return requirement(key.trim(), Op::DoesNotExist, Vec::new(), term);
    }
    if let Some(open) = term.find('(') {
        return parse_set_term(term, open);
    }
    for (token, op) in [("!=", Op::NotEquals), ("==", Op::Equals), ("=", Op::Equals)] {
        if let Some((key, value)) = term.split_once(token) {
            return requirement(key.trim(), op, vec![value.trim().to_owned()], term);
        }
    }
    requirement(term, Op::Exists, Vec::new(), term)
}

/// `key in (a,b)` or `key notin (a,b)`.
fn parse_set_term(term: &str, open: usize) -> Result<Requirement, String> {
    let inner = term[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| unparsable(term))?;
    let values = inner
        .split(',')
        .map(|value| value.trim().to_owned())
        .collect();
    let mut words = term[..open].split_whitespace();
    let (key, op) = match (words.next(), words.next(), words.next()) {
        (Some(key), Some("in"), None) => (key, Op::In),
        (Some(key), Some("notin"), None) => (key, Op::NotIn),
        _ => return Err(unparsable(term)),
    };
    requirement(key, op, values, term)
}

fn requirement(key: &str, op: Op, values: Vec<String>, term: &str) -> Result<Requirement, String> {
    if !valid_key(key) || !values.iter().all(|value| valid_value(value)) {
        return Err(unparsable(term));
    }
    Ok(Requirement {
        key: key.to_owned(),
        op,
        values,
    })
}

/// A label key: an optional DNS prefix and `/`, then a name of at most 63 characters.
fn valid_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    !name.is_empty() && name.len() <= 63 && key.len() <= 317 && key.chars().all(label_char_or_slash)
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_` and `.`.
fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn label_char_or_slash(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./".contains(c)
}

fn unparsable(text: &str) -> String {
    format!("unable to parse requirement: invalid label selector `{text}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selects(selector: &str, labels: Value) -> bool {
        Selector::parse(selector)
            .unwrap()
            .matches(labels.as_object())
    }

    #[test]
    fn equality_inequality_and_existence() {
        let labels = json!({"app": "web", "env": "prod"});
        assert!(selects("", labels.clone()));
        assert!(selects("app=web", labels.clone()));
        assert!(selects("app==web,env=prod", labels.clone()));
        assert!(!selects("app=api", labels.clone()));
        assert!(selects("app!=api", labels.clone()));
        assert!(selects("env", labels.clone()));
        assert!(!selects("!env", labels.clone()));
        assert!(selects("!team", labels));
    }

    #[test]
    fn set_based_requirements() {
        let labels = json!({"env": "prod"});
        assert!(selects("env in (prod, staging)", labels.clone()));
        assert!(!selects("env notin (prod)", labels.clone()));
        assert!(selects("team notin (a),env in (prod)", labels));
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for bad in ["=web", "app=web,", "env in (prod", "a b", "app=we b"] {
            assert!(Selector::parse(bad).is_err(), "{bad} should not parse");
        }
        // An empty value is legal: it selects objects whose label is empty.
        assert!(Selector::parse("app=").is_ok());
    }
}
