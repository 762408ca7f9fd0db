//! The audit trail of tool calls: one [`CallRecord`] per `tools/call`, whatever its outcome —
//! who called (principal, client), what (instance, tool, target, arguments with secret-looking
//! values redacted and the whole capped in size), the policy decision and its rule, the
//! confirmation outcome, the result, the duration and a summary of the call's egress. Records go
//! to the `capstan::audit` log target and, when configured, to a JSON Lines file with size-based
//! rotation ([`file`]). A record never holds a token, a header value or a response body.
//!
//! The egress gate keeps its own per-request records (`egress::audit`); this module is the
//! per-call view an auditor reads first.

pub mod file;
pub mod redact;
pub mod settings;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

use crate::caller::{Caller, CallerKind};
use file::RotatingFile;

/// Where call records go besides the log, and how the file rotates.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSettings {
    /// The JSON Lines file, if any.
    pub file: Option<PathBuf>,
    /// Size at which the file is rotated.
    pub max_size: u64,
    /// Rotated files kept (`FILE.1` … `FILE.N`).
    pub keep: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            file: None,
            max_size: 64 << 20,
            keep: 5,
        }
    }
}

/// The principal as it appears in a record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Principal {
    /// Stable subject.
    pub subject: String,
    /// Display name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Groups or roles.
    pub groups: Vec<String>,
    /// How the caller authenticated: `token`, `api_key`, `shared_token`, `anonymous`.
    pub kind: &'static str,
    /// The OAuth client, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl From<&Caller> for Principal {
    fn from(caller: &Caller) -> Self {
        Self {
            subject: caller.subject.clone(),
            name: caller.name.clone(),
            groups: caller.groups.clone(),
            kind: match caller.kind {
                CallerKind::Token { .. } => "token",
                CallerKind::ApiKey => "api_key",
                CallerKind::SharedToken => "shared_token",
                CallerKind::Anonymous => "anonymous",
            },
            client_id: caller.client_id.clone(),
        }
    }
}

/// The policy's verdict on a call, as recorded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicyVerdict {
    /// `allow`, `confirm` or `deny` (`allow` without a rule when no policy is configured).
    pub outcome: &'static str,
    /// The rule that decided, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What became of a confirmation a rule asked for.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// No rule asked for one.
    NotRequired,
    /// The question went to the client (an `input_required` result); the call ends here.
    Asked,
    /// The person said yes.
    Approved,
    /// The person said no, dismissed the question, or gave no valid answer.
    Declined,
    /// The question was not answered in time.
    TimedOut,
    /// The client cannot ask a person; nothing ran.
    Unavailable,
    /// The echoed approval did not verify (forged, tampered, replayed or expired).
    Rejected,
}

/// How the call ended.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tool ran and answered.
    Ok,
    /// The answer is an `isError` result (including refusals before the tool ran).
    IsError,
    /// A protocol error (unknown tool, cancelled).
    Error,
    /// Waiting for the client's input (`input_required`).
    InputRequired,
}

/// What the call sent upstream.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct EgressSummary {
    /// Requests the plugin made that the gate let through.
    pub requests: u32,
    /// Requests the gate refused.
    pub denials: u32,
}

/// One tool call.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    /// When the call arrived (RFC 3339, UTC).
    pub time: String,
    /// Who called.
    pub principal: Principal,
    /// The MCP session, for 2025-11-25 sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The JSON-RPC request id.
    pub request: String,
    /// The plugin instance, when the tool exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The exposed tool name.
    pub tool: String,
    /// The target the call addresses, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The arguments, redacted and capped ([`redact::arguments`]).
    pub arguments: Value,
    /// The policy's verdict.
    pub decision: PolicyVerdict,
    /// The confirmation outcome.
    pub confirmation: Confirmation,
    /// How the call ended.
    pub result: Outcome,
    /// Wall time from arrival to answer, in milliseconds.
    pub duration_ms: u64,
    /// The call's egress.
    pub egress: EgressSummary,
}

impl CallRecord {
    /// A record of a call by `caller` of `tool` with `arguments`, arrived at `arrived`; the
    /// remaining fields start as "allowed without policy, nothing ran".
    pub fn new(caller: &Caller, tool: &str, arguments: &Value, arrived: SystemTime) -> Self {
        Self {
            time: humantime::format_rfc3339_millis(arrived).to_string(),
            principal: Principal::from(caller),
            session: None,
            request: String::new(),
            instance: None,
            tool: tool.to_owned(),
            target: None,
            arguments: redact::arguments(arguments),
            decision: PolicyVerdict {
                outcome: "allow",
                rule: None,
            },
            confirmation: Confirmation::NotRequired,
            result: Outcome::Error,
            duration_ms: 0,
            egress: EgressSummary::default(),
        }
    }
}

/// Writes call records to the log and, when configured, to the rotating file.
#[derive(Debug)]
pub struct AuditLog {
    file: Option<std::sync::Mutex<RotatingFile>>,
}

impl AuditLog {
    /// A log that writes only to `capstan::audit` tracing events.
    pub fn log_only() -> Self {
        Self { file: None }
    }

    /// Opens the sinks `settings` name; the file (and its folder) must be writable.
    pub fn open(settings: &AuditSettings) -> Result<Self, file::AuditFileError> {
        let file = match &settings.file {
            Some(path) => Some(std::sync::Mutex::new(RotatingFile::open(
                path,
                settings.max_size,
                settings.keep,
            )?)),
            None => None,
        };
        Ok(Self { file })
    }

    /// Records `record` with its duration measured from `started`.
    pub fn record(&self, mut record: CallRecord, started: std::time::Instant) {
        record.duration_ms = duration_ms(started.elapsed());
        self.log(&record);
        if let Some(file) = &self.file {
            let line = serde_json::to_string(&record).unwrap_or_default();
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Err(error) = file.append(&line) {
                tracing::error!(target: "capstan::audit", "cannot write the audit file: {error}");
            }
        }
    }

    fn log(&self, record: &CallRecord) {
        tracing::info!(
            target: "capstan::audit",
            kind = "call",
            subject = %record.principal.subject,
            principal_kind = record.principal.kind,
            groups = %record.principal.groups.join(","),
            client_id = record.principal.client_id.as_deref().unwrap_or(""),
            instance = record.instance.as_deref().unwrap_or(""),
            tool = %record.tool,
            target = record.target.as_deref().unwrap_or(""),
            decision = record.decision.outcome,
            rule = record.decision.rule.as_deref().unwrap_or(""),
            confirmation = ?record.confirmation,
            result = ?record.result,
            duration_ms = record.duration_ms,
            egress_requests = record.egress.requests,
            egress_denials = record.egress.denials,
            "tool call"
        );
    }
}

fn duration_ms(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::SubjectToken;
    use serde_json::json;

    #[test]
    fn a_record_carries_the_principal_but_never_its_token() {
        let caller = Caller {
            subject: "alice".into(),
            groups: vec!["developers".into()],
            kind: CallerKind::Token {
                issuer: "https://idp".into(),
            },
            token: Some(SubjectToken::new("eyJhbGciOiJSUzI1NiJ9.e30.sig-secret")),
            ..Caller::anonymous()
        };
        let record = CallRecord::new(
            &caller,
            "argocd_sync_application",
            &json!({"applicationName": "payments-api"}),
            SystemTime::UNIX_EPOCH,
        );
        let line = serde_json::to_string(&record).unwrap();
        assert!(line.contains("\"subject\":\"alice\""), "{line}");
        assert!(line.contains("\"kind\":\"token\""), "{line}");
        assert!(line.contains("1970-01-01T00:00:00.000Z"), "{line}");
        assert!(!line.contains("sig-secret"), "{line}");
    }

    #[test]
    fn records_go_to_the_file_one_json_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&AuditSettings {
            file: Some(path.clone()),
            ..AuditSettings::default()
        })
        .unwrap();
        for tool in ["a", "b"] {
            let record = CallRecord::new(&Caller::anonymous(), tool, &json!({}), SystemTime::now());
            log.record(record, std::time::Instant::now());
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let tools: Vec<String> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["tool"].to_string())
            .collect();
        assert_eq!(tools, ["\"a\"", "\"b\""]);
    }
}
