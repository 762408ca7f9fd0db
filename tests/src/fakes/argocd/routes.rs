//! One request, start to finish: record it, hold it to the contract (path, method, query,
//! body), authenticate it, apply any injected fault, and hand it to the operation's handler
//! under the state lock.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::contract::Contract;
use super::store::{Answer, ApiError, Call, Fault, Query, Store, code};
use super::{applications, appsets, catalog, operations, resources};
use crate::fakes::server::{Journal, RecordedRequest, strip_base_path};

/// What every request handler shares.
pub(crate) struct Shared {
    pub base_path: String,
    pub token: Option<String>,
    pub journal: Arc<Journal>,
    pub store: Arc<Mutex<Store>>,
}

/// Locks the store; a poisoned lock only means a test thread panicked.
pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let request = RecordedRequest::read(request).await;
    shared.journal.record(&request);
    let Some(path) = strip_base_path(&shared.base_path, &request.path) else {
        let reason = format!("the path is outside the base path `{}`", shared.base_path);
        return shared.violation(&request, &reason, StatusCode::NOT_FOUND);
    };
    let query = request.query_pairs();
    let contract = Contract::get();
    let (matched, body) = match contract.check_request(&request.method, path, &query, &request.body)
    {
        Ok(checked) => checked,
        Err(reason) => return shared.violation(&request, &reason, StatusCode::BAD_REQUEST),
    };
    let operation = matched.operation.id.as_str();
    if let Some(denied) = shared.authenticate(&request, operation) {
        return denied;
    }
    let fault = lock(&shared.store).faults.get(operation).cloned();
    match fault {
        Some(Fault::Status(status)) => return ApiError::for_status(status).into_response(),
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "<html><body>upstream proxy error</body></html>",
            )
                .into_response();
        }
        Some(Fault::StreamError) | None => {}
    }
    let call = Call {
        params: &matched.path_params,
        query: Query(&query),
        body,
    };
    let mut store = lock(&shared.store);
    if matches!(
        operation,
        "ApplicationService_PodLogs" | "ApplicationService_PodLogs2"
    ) {
        let broken = fault == Some(Fault::StreamError);
        return match resources::pod_logs(&mut store, &call, broken) {
            Ok((status, reply)) => (status, reply).into_response(),
            Err(error) => error.into_response(),
        };
    }
    let answer = route(operation, &mut store, &call);
    // Serialize outside the lock, so concurrent requests only queue for the store itself.
    drop(store);
    match answer {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

fn route(operation: &str, store: &mut Store, call: &Call<'_>) -> Answer {
    match operation {
        "VersionService_Version" => Ok(super::store::Reply::Json(catalog::version())),
        "ApplicationService_List" => applications::list(store, call),
        "ApplicationService_Get" => applications::get(store, call),
        "ApplicationService_Create" => applications::create(store, call),
        "ApplicationService_Update" => applications::update(store, call),
        "ApplicationService_Patch" => applications::patch(store, call),
        "ApplicationService_Delete" => applications::delete(store, call),
        "ApplicationService_Sync" => operations::sync(store, call),
        "ApplicationService_Rollback" => operations::rollback(store, call),
        "ApplicationService_TerminateOperation" => operations::terminate(store, call),
        "ApplicationService_RevisionMetadata" => operations::revision_metadata(store, call),
        "ApplicationService_ResourceTree" => resources::tree(store, call),
        "ApplicationService_ManagedResources" => resources::managed(store, call),
        "ApplicationService_GetResource" => resources::get_resource(store, call),
        "ApplicationService_ListResourceActions" => resources::list_actions(store, call),
        "ApplicationService_RunResourceAction" => resources::run_action(store, call, false),
        "ApplicationService_RunResourceActionV2" => resources::run_action(store, call, true),
        "ApplicationService_GetManifests" => resources::manifests(store, call),
        "ApplicationService_ServerSideDiff" => resources::server_side_diff(store, call),
        "ApplicationService_ListResourceEvents" => resources::events(store, call),
        "ApplicationSetService_List" => appsets::list(store, call),
        "ApplicationSetService_Get" => appsets::get(store, call),
        "ApplicationSetService_Create" => appsets::create(store, call),
        "ApplicationSetService_Delete" => appsets::delete(store, call),
        "ApplicationSetService_Generate" => appsets::generate(store, call),
        "ClusterService_List" => catalog::list_clusters(store, call),
        "ProjectService_List" => catalog::list_projects(store, call),
        "ProjectService_Get" => catalog::get_project(store, call),
        "RepositoryService_ListApps" => catalog::repo_apps(store, call),
        "AccountService_CanI" => catalog::can_i(store, call),
        "SessionService_GetUserInfo" => catalog::user_info(store, call),
        other => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            code::UNIMPLEMENTED,
            format!(
                "capstan fake Argo CD: {other} is in the contract but not implemented by the fake yet"
            ),
        )),
    }
}

impl Shared {
    fn violation(&self, request: &RecordedRequest, reason: &str, status: StatusCode) -> Response {
        self.journal.violation(request, reason);
        let message = format!("capstan fake Argo CD: contract violation: {reason}");
        ApiError::new(status, code::INVALID_ARGUMENT, message).into_response()
    }

    /// `None` when the request may proceed. `/api/version` answers without a session, as in
    /// Argo CD.
    fn authenticate(&self, request: &RecordedRequest, operation: &str) -> Option<Response> {
        let token = self.token.as_deref()?;
        if operation == "VersionService_Version" {
            return None;
        }
        let message = match request.authorization() {
            None => "no session information",
            Some(header) if header.strip_prefix("Bearer ") == Some(token) => return None,
            Some(_) => "invalid session: token signature is invalid",
        };
        Some(
            ApiError::new(StatusCode::UNAUTHORIZED, code::UNAUTHENTICATED, message).into_response(),
        )
    }
}
