//! The fake Kubernetes API: fixtures, reads (`read.rs`) and writes (`write.rs`).

mod read;
mod write;

use serde_json::{Value, json};

use super::*;
use crate::fakes::tests::client;

const ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1";

fn rollout(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": format!("example/{name}:1.0")}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "1m"}}]}},
        },
    })
}

fn cluster() -> Cluster {
    Cluster::new()
        .with(rollout("shop", "web"))
        .and_then(|cluster| cluster.with(rollout("shop", "api")))
        .and_then(|cluster| cluster.with(rollout("ops", "tools")))
        .unwrap()
}

async fn get(server: &FakeServer, path_and_query: &str) -> (u16, Value) {
    send(server, "GET", path_and_query, None, Value::Null).await
}

/// Sends `body` (JSON, unless `Null`) with `content_type`; the status and the JSON answer.
async fn send(
    server: &FakeServer,
    method: &str,
    path_and_query: &str,
    content_type: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client().request(method, format!("{}{path_and_query}", server.base_url()));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if !body.is_null() {
        request = request.body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| object["metadata"]["name"].as_str().unwrap())
        .collect()
}
