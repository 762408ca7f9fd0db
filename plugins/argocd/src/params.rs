//! Reading the arguments the tools share: the application a call addresses (with both
//! spellings of its namespace), resource references and paging.

use capstan_sdk::{Context, ToolError, Value, args};

use crate::client::{Client, Query};
use capstan_sdk::url::{encode, segment};

/// The application a call addresses, and the client for its target.
pub(crate) struct AppRef<'a> {
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub client: Client,
}

impl<'a> AppRef<'a> {
    /// Reads `target`, `applicationName` and `applicationNamespace`/`appNamespace`. Without a
    /// target on an instance with several and no default, the target holding the application
    /// is found (`locate`).
    pub(crate) fn from(context: &Context, arguments: &'a Value) -> Result<Self, ToolError> {
        let name = args::required_str(arguments, "applicationName")?;
        let namespace = args::str(arguments, "applicationNamespace")
            .or_else(|| args::str(arguments, "appNamespace"))
            .filter(|ns| !ns.is_empty());
        segment(name)?;
        let client = match Client::for_call(context, arguments) {
            Ok(client) => client,
            Err(_) if crate::locate::needed(context, arguments) => {
                crate::locate::target_of(context, name, namespace)?
            }
            Err(error) => return Err(error),
        };
        Ok(Self {
            name,
            namespace,
            client,
        })
    }

    /// `/api/v1/applications/<name>` plus `rest`, with the name in its own encoded segment
    /// (`from` refused the names `.` and `..`).
    pub(crate) fn path(&self, rest: &str) -> String {
        format!("/api/v1/applications/{}{rest}", encode(self.name))
    }

    /// A query with `appNamespace` when the application has one.
    pub(crate) fn query(&self) -> Query {
        let mut query = Query::default();
        query.push_opt("appNamespace", self.namespace);
        query
    }

    /// What to tell the agent when Argo CD answers 404.
    pub(crate) fn not_found(&self) -> String {
        format!(
            "No application `{}` exists there (or the object asked about is not part of it); find the \
             right name, and applicationNamespace for apps outside Argo CD's namespace, with \
             list_applications.",
            self.name
        )
    }
}

/// A Kubernetes object of the application: kind, name, namespace, group, version.
pub(crate) struct ResourceRef {
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub group: String,
    pub version: String,
}

impl ResourceRef {
    /// Reads a `resourceRef` object.
    pub(crate) fn from(value: &Value) -> Result<Self, ToolError> {
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        let reference = Self {
            kind: text("kind"),
            name: text("name"),
            namespace: text("namespace"),
            group: text("group"),
            version: text("version"),
        };
        if reference.kind.is_empty() || reference.name.is_empty() {
            return Err(ToolError::new(
                "a resource reference needs at least `kind` and `name`; take them from get_application_resource_tree",
            ));
        }
        Ok(reference)
    }

    /// The query Argo CD's resource operations take, including a version default.
    pub(crate) fn push(&self, query: &mut Query) {
        query.push_opt("namespace", Some(&self.namespace));
        query.push("resourceName", &self.name);
        query.push(
            "version",
            if self.version.is_empty() {
                "v1"
            } else {
                &self.version
            },
        );
        query.push_opt("group", Some(&self.group));
        query.push("kind", &self.kind);
    }

    /// `Kind/namespace/name`.
    pub(crate) fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Paging arguments: `limit` (default given), `offset`, `detail`.
pub(crate) struct Paging {
    pub limit: usize,
    pub offset: usize,
    pub detail: bool,
}

impl Paging {
    pub(crate) fn from(arguments: &Value, default_limit: u64) -> Self {
        let limit = args::u64_or(arguments, "limit", default_limit);
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            offset: usize::try_from(args::u64_or(arguments, "offset", 0)).unwrap_or(usize::MAX),
            detail: arguments["detail"].as_bool().unwrap_or(false),
        }
    }

    /// The page of `rows` and the paging fields of the answer.
    pub(crate) fn apply(&self, rows: Vec<Value>) -> (Vec<Value>, Value) {
        let total = rows.len();
        let page: Vec<Value> = rows
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let fields = self.fields(total, page.len());
        (page, fields)
    }

    /// Whether the matching row number `index` (from 0) is on the page.
    pub(crate) fn on_page(&self, index: usize) -> bool {
        index >= self.offset && index - self.offset < self.limit
    }

    /// The paging fields of an answer with `returned` of `total` matching rows.
    pub(crate) fn fields(&self, total: usize, returned: usize) -> Value {
        let has_more = self.offset + returned < total;
        let mut fields = capstan_sdk::json!({
            "total": total, "offset": self.offset, "returned": returned, "hasMore": has_more,
        });
        if has_more {
            fields["nextOffset"] = capstan_sdk::json!(self.offset + returned);
        }
        fields
    }
}

/// Copies `fields` (an object) into `answer` (an object).
pub(crate) fn merge(answer: &mut Value, fields: Value) {
    if let (Some(answer), Value::Object(fields)) = (answer.as_object_mut(), fields) {
        answer.extend(fields);
    }
}
