//! The Argo CD REST contract (`swagger.json` of Argo CD v3.5.1): which operation a request
//! addresses, whether its query parameters are declared for that operation with values of the
//! declared type, and whether its body is valid against the operation's body schema.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

use super::schema::{check_body, swagger};

use crate::fakes::server::{check_segments, decode_segment, raw_segments};

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract::from_swagger(swagger()));

/// The operations of Argo CD's API.
#[derive(Debug)]
pub(crate) struct Contract {
    operations: Vec<Operation>,
}

/// One operation: a method on a path template, with its declared query parameters.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The swagger `operationId`, e.g. `ApplicationService_List`.
    pub(crate) id: String,
    method: String,
    template: String,
    segments: Vec<Segment>,
    query: HashMap<String, Param>,
    /// The schema of the body parameter, if the operation takes one.
    body: Option<Value>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug)]
struct Param {
    kind: String,
    repeated: bool,
    allowed: Option<Vec<String>>,
}

/// A request matched to its operation, with its path parameters decoded.
#[derive(Debug)]
pub(crate) struct Matched<'a> {
    pub(crate) operation: &'a Operation,
    pub(crate) path_params: HashMap<String, String>,
}

impl Contract {
    /// The contract of the vendored swagger.json.
    pub(crate) fn get() -> &'static Contract {
        &CONTRACT
    }

    fn from_swagger(swagger: &Value) -> Self {
        let mut operations = Vec::new();
        for (template, methods) in swagger["paths"].as_object().into_iter().flatten() {
            for (method, operation) in methods.as_object().into_iter().flatten() {
                operations.push(Operation::new(template, method, operation));
            }
        }
        // Literal segments win over parameters: `/api/v1/applications/manifestsWithFiles`
        // before `/api/v1/applications/{name}`.
        operations.sort_by_key(|operation| std::cmp::Reverse(operation.literal_count()));
        Self { operations }
    }

    /// The operation `method path?query` addresses, or why the request breaks the contract.
    /// `path` is relative to the API root (any base path already removed), still encoded.
    pub(crate) fn check(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Matched<'_>, String> {
        let segments = raw_segments(path);
        check_segments(&segments)?;
        let matched = self.find(method, path, &segments)?;
        matched.operation.check_query(query)?;
        Ok(matched)
    }

    /// Like [`Contract::check`], and also checks `body` against the operation's body schema:
    /// an operation with a body parameter needs a JSON body valid against it, one without
    /// needs no body at all. Returns the parsed body (`Null` when there is none).
    pub(crate) fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
    ) -> Result<(Matched<'_>, Value), String> {
        let matched = self.check(method, path, query)?;
        let body = matched.operation.check_body(body)?;
        Ok((matched, body))
    }

    fn find(&self, method: &str, path: &str, segments: &[&str]) -> Result<Matched<'_>, String> {
        let found = self
            .operations
            .iter()
            .filter(|operation| operation.method.eq_ignore_ascii_case(method))
            .find_map(|operation| operation.matches(segments));
        if let Some(matched) = found {
            return matched;
        }
        let others: Vec<&str> = self
            .operations
            .iter()
            .filter(|operation| operation.matches(segments).is_some())
            .map(|operation| operation.method.as_str())
            .collect();
        Err(if others.is_empty() {
            format!("no path of Argo CD's API matches `{path}`")
        } else {
            format!(
                "Argo CD's API has no {method} operation on `{path}` (it has: {})",
                others.join(", ")
            )
        })
    }
}

impl Operation {
    fn new(template: &str, method: &str, operation: &Value) -> Self {
        let segments = raw_segments(template)
            .into_iter()
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.to_owned()),
                    None => Segment::Literal(segment.to_owned()),
                },
            )
            .collect();
        let query = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|param| param["in"] == "query")
            .filter_map(|param| Some((param["name"].as_str()?.to_owned(), Param::new(param))))
            .collect();
        let body = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|param| param["in"] == "body")
            .map(|param| param["schema"].clone());
        Self {
            body,
            id: operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            method: method.to_ascii_uppercase(),
            template: template.to_owned(),
            segments,
            query,
        }
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|segment| matches!(segment, Segment::Literal(_)))
            .count()
    }

    /// `None` when the shape differs; `Some(Err)` when it matches but a parameter is not
    /// decodable.
    fn matches(&self, segments: &[&str]) -> Option<Result<Matched<'_>, String>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut path_params = HashMap::new();
        for (expected, actual) in self.segments.iter().zip(segments) {
            match expected {
                Segment::Literal(literal) if literal == actual => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => match decode_segment(actual) {
                    Ok(value) => {
                        path_params.insert(name.clone(), value);
                    }
                    Err(error) => return Some(Err(error)),
                },
            }
        }
        Some(Ok(Matched {
            operation: self,
            path_params,
        }))
    }

    fn check_query(&self, query: &[(String, String)]) -> Result<(), String> {
        for (name, value) in query {
            let Some(param) = self.query.get(name) else {
                return Err(self.undeclared(name));
            };
            param.check(name, value)?;
            if !param.repeated && query.iter().filter(|(other, _)| other == name).count() > 1 {
                return Err(format!("query parameter `{name}` is not repeatable"));
            }
        }
        Ok(())
    }

    fn check_body(&self, body: &[u8]) -> Result<Value, String> {
        let Some(schema) = &self.body else {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return Err(format!(
                "{} ({}) takes no request body",
                self.template, self.id
            ));
        };
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            format!(
                "the body of {} is not JSON ({error}); it must be valid against the contract",
                self.id
            )
        })?;
        check_body(schema, &value)
            .map_err(|error| format!("the body of {} breaks its schema: {error}", self.id))?;
        Ok(value)
    }

    fn undeclared(&self, name: &str) -> String {
        let mut declared: Vec<&str> = self.query.keys().map(String::as_str).collect();
        declared.sort_unstable();
        format!(
            "query parameter `{name}` is not declared for {} {} ({}); declared: {}",
            self.method,
            self.template,
            self.id,
            if declared.is_empty() {
                "none".to_owned()
            } else {
                declared.join(", ")
            }
        )
    }
}

impl Param {
    fn new(param: &Value) -> Self {
        let repeated = param["type"] == "array";
        let item = if repeated { &param["items"] } else { param };
        let allowed = item["enum"].as_array().map(|values| {
            values
                .iter()
                .filter_map(|value| value.as_str().map(str::to_owned))
                .collect()
        });
        Self {
            kind: item["type"].as_str().unwrap_or("string").to_owned(),
            repeated,
            allowed,
        }
    }

    fn check(&self, name: &str, value: &str) -> Result<(), String> {
        let valid = match self.kind.as_str() {
            // Go's strconv.ParseBool, which grpc-gateway uses.
            "boolean" => [
                "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False",
            ]
            .contains(&value),
            "integer" => value.parse::<i64>().is_ok(),
            "number" => value.parse::<f64>().is_ok(),
            _ => true,
        };
        if !valid {
            return Err(format!(
                "query parameter `{name}` must be a {}, not `{value}`",
                self.kind
            ));
        }
        match &self.allowed {
            Some(allowed) if !allowed.iter().any(|allowed| allowed == value) => Err(format!(
                "query parameter `{name}` must be one of {}, not `{value}`",
                allowed.join(", ")
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn declared_operations_match() {
        let contract = Contract::get();
        let list = contract
            .check(
                "GET",
                "/api/v1/applications",
                &pairs(&[("projects", "a"), ("projects", "b")]),
            )
            .unwrap();
        assert_eq!(list.operation.id, "ApplicationService_List");
        let get = contract
            .check("GET", "/api/v1/applications/a%2Fb", &[])
            .unwrap();
        assert_eq!(get.operation.id, "ApplicationService_Get");
        assert_eq!(get.path_params["name"], "a/b");
        assert_eq!(
            contract
                .check("GET", "/api/version", &[])
                .unwrap()
                .operation
                .id,
            "VersionService_Version"
        );
    }

    #[test]
    fn an_undeclared_query_parameter_is_a_violation() {
        let error = Contract::get()
            .check(
                "GET",
                "/api/v1/applications",
                &pairs(&[("search", "guest")]),
            )
            .unwrap_err();
        assert!(error.contains("`search` is not declared"), "{error}");
        assert!(
            error.contains("selector"),
            "the message lists what is declared: {error}"
        );
    }

    #[test]
    fn bad_paths_methods_and_values_are_violations() {
        let contract = Contract::get();
        assert!(contract.check("GET", "/api/v1/nope", &[]).is_err());
        assert!(contract.check("GET", "/api/v1/applications/", &[]).is_err());
        assert!(
            contract
                .check("GET", "/api/v1/applications/..", &[])
                .is_err()
        );
        let error = contract.check("PUT", "/api/version", &[]).unwrap_err();
        assert!(error.contains("has no PUT operation"), "{error}");
        let error = contract
            .check(
                "DELETE",
                "/api/v1/applications/a",
                &pairs(&[("cascade", "yes")]),
            )
            .unwrap_err();
        assert!(error.contains("must be a boolean"), "{error}");
        let error = contract
            .check(
                "GET",
                "/api/v1/applications",
                &pairs(&[("selector", "a"), ("selector", "b")]),
            )
            .unwrap_err();
        assert!(error.contains("not repeatable"), "{error}");
    }

    #[test]
    fn bodies_are_checked_against_the_operation_schema() {
        let contract = Contract::get();
        let sync = |body: &str| {
            contract.check_request("POST", "/api/v1/applications/a/sync", &[], body.as_bytes())
        };
        assert!(sync(r#"{"prune": true, "syncOptions": {"items": ["Validate=false"]}}"#).is_ok());
        let error = sync(r#"{"syncOptions": ["Validate=false"]}"#).unwrap_err();
        assert!(error.contains("breaks its schema"), "{error}");
        assert!(
            sync(r#"{"prun": true}"#).is_err(),
            "unknown fields are refused"
        );
        assert!(sync("not json").unwrap_err().contains("not JSON"));
        assert!(sync("").is_err(), "a body is required");
        let get = contract.check_request("GET", "/api/v1/applications/a", &[], b"{}");
        assert!(get.unwrap_err().contains("takes no request body"));
        let action = |body: &str| {
            contract.check_request(
                "POST",
                "/api/v1/applications/a/resource/actions",
                &[],
                body.as_bytes(),
            )
        };
        assert!(action(r#""restart""#).is_ok());
        assert!(action(r#"{"action": "restart"}"#).is_err());
    }
}
