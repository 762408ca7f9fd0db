//! The three patch formats the API server applies: JSON merge patch (RFC 7386), JSON Patch
//! (RFC 6902, every op including `test`) and strategic merge patch (built-in kinds only).
//!
//! The strategic merge here covers what clients send in practice: maps merge as in a merge
//! patch, and lists of objects that carry a `name` (containers, env, ports, volumes) merge
//! item by item on that key; other lists are replaced. `$patch` directives are not supported.

use serde_json::{Map, Value};

/// Why a patch could not be applied, and how the API server answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PatchError {
    /// The patch is not well-formed: 400.
    Malformed(String),
    /// The patch is well-formed but does not apply (a failed `test`, a missing path): 422.
    Unapplicable(String),
}

/// RFC 7386: `null` removes, objects merge recursively, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// A strategic merge patch (see the module docs for what is covered).
pub(crate) fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        match (target.get_mut(key), value) {
            (_, Value::Null) => {
                target.remove(key);
            }
            (Some(Value::Array(current)), Value::Array(items)) if keyed_by_name(items) => {
                merge_by_name(current, items);
            }
            (Some(current), Value::Object(_)) => strategic_merge_patch(current, value),
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

fn keyed_by_name(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|item| item["name"].is_string())
}

fn merge_by_name(current: &mut Vec<Value>, items: &[Value]) {
    for item in items {
        match current
            .iter_mut()
            .find(|existing| existing["name"] == item["name"])
        {
            Some(existing) => strategic_merge_patch(existing, item),
            None => current.push(item.clone()),
        }
    }
}

/// RFC 6902: applies every operation in order, or none.
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations = patch.as_array().ok_or_else(|| {
        PatchError::Malformed("a JSON Patch must be an array of operations".into())
    })?;
    let mut patched = target.clone();
    for operation in operations {
        apply_operation(&mut patched, operation)?;
    }
    *target = patched;
    Ok(())
}

fn apply_operation(target: &mut Value, operation: &Value) -> Result<(), PatchError> {
    let field = |name: &str| {
        operation[name].as_str().ok_or_else(|| {
            PatchError::Malformed(format!(
                "a JSON Patch operation is missing `{name}`: {operation}"
            ))
        })
    };
    let op = field("op")?;
    let path = field("path")?;
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| PatchError::Malformed(format!("the {op} operation needs a `value`")))
    };
    match op {
        "add" => add(target, path, value()?),
        "remove" => remove(target, path).map(drop),
        "replace" => {
            remove(target, path)?;
            add(target, path, value()?)
        }
        "move" => {
            let moved = remove(target, field("from")?)?;
            add(target, path, moved)
        }
        "copy" => {
            let copied = resolve(target, field("from")?)?.clone();
            add(target, path, copied)
        }
        "test" => {
            let expected = value()?;
            if resolve(target, path)? == &expected {
                Ok(())
            } else {
                Err(PatchError::Unapplicable(format!(
                    "testing value {path} failed: test failed"
                )))
            }
        }
        other => Err(PatchError::Malformed(format!(
            "unexpected kind of JSON Patch operation `{other}`"
        ))),
    }
}

/// The reference tokens of a JSON pointer, unescaped.
fn tokens(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| {
        PatchError::Malformed(format!("JSON pointer `{pointer}` must start with `/`"))
    })?;
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn missing(pointer: &str) -> PatchError {
    PatchError::Unapplicable(format!(
        "the JSON Patch path `{pointer}` does not exist in the object"
    ))
}

fn resolve<'a>(target: &'a Value, pointer: &str) -> Result<&'a Value, PatchError> {
    let mut node = target;
    for token in tokens(pointer)? {
        node = match node {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        }
        .ok_or_else(|| missing(pointer))?;
    }
    Ok(node)
}

/// The parent container of `pointer` and the last token.
fn parent<'a>(target: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), PatchError> {
    let mut tokens = tokens(pointer)?;
    let last = tokens
        .pop()
        .ok_or_else(|| PatchError::Unapplicable("cannot replace the whole object".into()))?;
    let mut node = target;
    for token in tokens {
        node = match node {
            Value::Object(map) => map.get_mut(&token),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(move |index| items.get_mut(index)),
            _ => None,
        }
        .ok_or_else(|| missing(pointer))?;
    }
    Ok((node, last))
}

fn add(target: &mut Value, pointer: &str, value: Value) -> Result<(), PatchError> {
    let (node, last) = parent(target, pointer)?;
    match node {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = match last.as_str() {
                "-" => items.len(),
                index => index
                    .parse::<usize>()
                    .ok()
                    .filter(|index| *index <= items.len())
                    .ok_or_else(|| missing(pointer))?,
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(pointer)),
    }
}

fn remove(target: &mut Value, pointer: &str) -> Result<Value, PatchError> {
    let (node, last) = parent(target, pointer)?;
    match node {
        Value::Object(map) => map.remove(&last).ok_or_else(|| missing(pointer)),
        Value::Array(items) => match last.parse::<usize>() {
            Ok(index) if index < items.len() => Ok(items.remove(index)),
            _ => Err(missing(pointer)),
        },
        _ => Err(missing(pointer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(
            &mut target,
            &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}),
        );
        assert_eq!(
            target,
            json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
    }

    #[test]
    fn json_patch_applies_every_op_or_none() {
        let mut target = json!({"spec": {"template": {"a": 1}, "list": [1, 2]}});
        let patch = json!([
            {"op": "test", "path": "/spec/template/a", "value": 1},
            {"op": "replace", "path": "/spec/template", "value": {"b": 2}},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "add", "path": "/spec/list/0", "value": 0},
            {"op": "remove", "path": "/spec/list/1"},
            {"op": "copy", "from": "/spec/template", "path": "/spec/copy"},
            {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
            {"op": "add", "path": "/metadata~1x", "value": "slash"},
        ]);
        json_patch(&mut target, &patch).unwrap();
        assert_eq!(
            target,
            json!({"spec": {"template": {"b": 2}, "list": [0, 2, 3], "moved": {"b": 2}}, "metadata/x": "slash"})
        );
        let before = target.clone();
        let failing = json!([
            {"op": "replace", "path": "/spec/template", "value": {}},
            {"op": "test", "path": "/spec/list/0", "value": 9},
        ]);
        assert!(matches!(
            json_patch(&mut target, &failing),
            Err(PatchError::Unapplicable(_))
        ));
        assert_eq!(target, before, "a failed patch changes nothing");
        let missing = json!([{"op": "replace", "path": "/nope/x", "value": 1}]);
        assert!(matches!(
            json_patch(&mut target, &missing),
            Err(PatchError::Unapplicable(_))
        ));
        assert!(matches!(
            json_patch(&mut target, &json!({"op": "add"})),
            Err(PatchError::Malformed(_))
        ));
    }

    #[test]
    fn strategic_merge_merges_named_lists() {
        let mut target = json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}});
        strategic_merge_patch(
            &mut target,
            &json!({"spec": {"containers": [{"name": "b", "image": "b:2"}]}}),
        );
        assert_eq!(
            target,
            json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}]}})
        );
    }
}
