//! `Status` objects, the body of every Kubernetes API error, worded as the real API server
//! words them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::types::ResourceType;

/// A `Status` answer.
#[derive(Debug, Clone)]
pub struct Status {
    /// HTTP status.
    pub code: StatusCode,
    /// `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`.
    pub details: Value,
}

impl Status {
    /// A Status with empty details.
    pub fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: json!({}),
        }
    }

    fn about(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = json!({"name": name, "group": rt.group, "kind": rt.plural});
        self
    }

    /// What the API server answers for a path it does not serve.
    pub fn path_not_found() -> Self {
        let message = "the server could not find the requested resource";
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// `rollouts.argoproj.io "web" not found`.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let message = format!("{} \"{name}\" not found", rt.resource_name());
        Self::new(StatusCode::NOT_FOUND, "NotFound", message).about(rt, name)
    }

    /// `rollouts.argoproj.io "web" already exists`.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        let message = format!("{} \"{name}\" already exists", rt.resource_name());
        Self::new(StatusCode::CONFLICT, "AlreadyExists", message).about(rt, name)
    }

    /// A stale `resourceVersion` on an update.
    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            rt.resource_name()
        );
        Self::new(StatusCode::CONFLICT, "Conflict", message).about(rt, name)
    }

    /// `Rollout.argoproj.io "web" is invalid: <causes>`.
    pub fn invalid(rt: &ResourceType, name: &str, causes: &str) -> Self {
        let qualified = if rt.group.is_empty() {
            rt.kind.clone()
        } else {
            format!("{}.{}", rt.kind, rt.group)
        };
        let message = format!("{qualified} \"{name}\" is invalid: {causes}");
        let causes: Vec<Value> = causes
            .split("; ")
            .map(|cause| json!({"reason": "FieldValueInvalid", "message": cause}))
            .collect();
        Self {
            details: json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
        }
    }

    /// What the API server answers when RBAC denies a request.
    pub fn forbidden(
        rt: &ResourceType,
        name: Option<&str>,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        user: &str,
    ) -> Self {
        let subject = match name {
            Some(name) => format!("{} \"{name}\"", rt.resource_name()),
            None => rt.resource_name(),
        };
        let scope = match namespace {
            Some(namespace) => format!(" in the namespace \"{namespace}\""),
            None => " at the cluster scope".to_owned(),
        };
        let message = format!(
            "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API \
             group \"{}\"{scope}",
            rt.group
        );
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message).about(rt, name.unwrap_or_default())
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        let message = "the server does not allow this method on the requested resource";
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    /// 415 for a patch type the resource does not accept.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        let message = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        );
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        )
    }

    /// 422 for a JSON Patch that cannot be applied (a failed `test`, a missing path).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
    }

    /// The response.
    pub fn into_response(self) -> Response {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "details": self.details,
            "code": self.code.as_u16(),
        });
        (self.code, Json(body)).into_response()
    }
}
