//! The workloads both servers are driven with: the same tool, the same arguments, and the
//! upstream request each one stands for (the direct baseline sends exactly that request).

use std::net::SocketAddr;

use serde_json::{Value, json};

/// One kind of question an agent asks, as a tool call and as the Argo CD request behind it.
pub struct Workload {
    /// The tool's name, the same in both servers (capstan's instance has an empty prefix).
    pub tool: &'static str,
    /// What the row says about the data, e.g. "100 apps".
    pub scope: &'static str,
    kind: Kind,
    apps: Vec<String>,
}

#[derive(Clone, Copy)]
enum Kind {
    Get,
    List,
    Tree,
    Sync,
}

/// An upstream request: method, path from the API root, and JSON body.
pub struct DirectRequest {
    /// The HTTP method.
    pub method: &'static str,
    /// The path and query, from the server root.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl DirectRequest {
    /// The body as sent.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.body
            .as_ref()
            .map(|body| serde_json::to_vec(body).expect("a JSON value serialises"))
            .unwrap_or_default()
    }

    /// The whole HTTP/1.1 request to the server at `address`, with `token`.
    pub fn render(&self, address: SocketAddr, token: &str) -> Vec<u8> {
        let body = self.body_bytes();
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
             accept: application/json\r\n",
            self.method, self.path
        );
        if !body.is_empty() {
            head.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }
}

impl Workload {
    /// The four workloads, over the applications `apps` (calls rotate through them).
    pub fn all(apps: &[String]) -> Vec<Workload> {
        let workload = |tool, scope, kind| Workload {
            tool,
            scope,
            kind,
            apps: apps.to_vec(),
        };
        vec![
            workload("get_application", "one app", Kind::Get),
            workload("list_applications", "100 apps", Kind::List),
            workload("get_application_resource_tree", "one app", Kind::Tree),
            workload("sync_application", "one app, dry run", Kind::Sync),
        ]
    }

    /// How many different calls the workload makes (calls rotate through them): one per
    /// application, or one for the list.
    pub fn distinct_calls(&self) -> usize {
        match self.kind {
            Kind::List => 1,
            _ => self.apps.len(),
        }
    }

    /// The arguments of call number `call`.
    pub fn arguments(&self, call: usize) -> Value {
        let name = self.app(call);
        match self.kind {
            // Both servers page client-side; ask for every row so they do the same work.
            Kind::List => json!({"limit": 100}),
            Kind::Get | Kind::Tree => json!({"applicationName": name}),
            // A dry run, so back-to-back syncs of one app never wait for a running operation.
            Kind::Sync => json!({"applicationName": name, "dryRun": true}),
        }
    }

    /// The arguments an agent sends when it asks this question with each server's defaults.
    pub fn default_arguments(&self) -> Value {
        match self.kind {
            Kind::List => json!({}),
            _ => self.arguments(0),
        }
    }

    /// The Argo CD request call number `call` stands for.
    pub fn direct(&self, call: usize) -> DirectRequest {
        let name = self.app(call);
        let (method, path, body) = match self.kind {
            Kind::Get => ("GET", format!("/api/v1/applications/{name}"), None),
            Kind::List => ("GET", "/api/v1/applications".to_owned(), None),
            Kind::Tree => (
                "GET",
                format!("/api/v1/applications/{name}/resource-tree"),
                None,
            ),
            Kind::Sync => (
                "POST",
                format!("/api/v1/applications/{name}/sync"),
                Some(json!({"name": name, "dryRun": true})),
            ),
        };
        DirectRequest { method, path, body }
    }

    fn app(&self, call: usize) -> &str {
        &self.apps[call % self.apps.len()]
    }
}
