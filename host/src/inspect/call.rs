//! `capstan call DIR TOOL [JSON]`: runs one tool of a plugin folder once, the way `capstan
//! serve` runs it, and shows what it did: the plugin author's dev loop.
//!
//! Nothing here is a second sandbox: the folder is loaded by the registry (manifests,
//! components, targets with the credentials the host injects when serving), the arguments are
//! checked by the tool's compiled input schema, the call runs through
//! `registry::Instance::call_tool` and the egress gate, and the answer is shaped as MCP clients
//! get it (`mcp::convert`, `mcp::result`). The gate's decisions are watched through the call's
//! event sink ([`EgressWatch`]) and printed as they happen: allowed (the target it matched and
//! the answer's status) or refused (the reason). No header is ever printed, so neither is a
//! credential.
//!
//! The result goes to stdout (readable, or the raw `CallToolResult` with `--json`); egress
//! decisions, progress and log lines go to stderr. Exit codes: 0 the tool answered, 1 it
//! answered `isError` or the sandbox stopped it, 2 nothing ran (see [`SetupError`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::config::parse_size;
use crate::egress::{CallContext, EgressSettings, ResolveOverrides, TargetScope};
use crate::events::{EgressDecision, EgressNote, EgressWatch, EventSink, GuestEvent};
use crate::guest_text::escape;
use crate::mcp::server::ServeOptions;
use crate::mcp::{convert, result};
use crate::registry::{Instance, InstanceError, Snapshot, ToolDefinition};
use crate::runtime::CallAnswer;

/// Events a call may have unread before more are dropped (progress, logs, refusals).
const EVENTS: usize = 1024;

/// Argument problems listed in full.
const PROBLEMS: usize = 8;

/// `capstan call`'s command line.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The plugin folder (manifests and components), as `capstan check` takes it.
    dir: PathBuf,
    /// The tool as served (`<prefix>_<name>`); the plugin's own name works too when only one
    /// instance has a tool of that name.
    tool: String,
    /// The arguments, a JSON object.
    #[arg(default_value = "{}")]
    arguments: String,
    /// The instance to call, when the folder has several.
    #[arg(long, value_name = "NAME")]
    instance: Option<String>,
    /// The target the call addresses: sets the `target` argument (when the tool takes one)
    /// and holds the call's requests to that target, as a call authorised by a policy is.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Print the raw MCP `CallToolResult` as JSON instead of its text.
    #[arg(long)]
    json: bool,
    /// Pin a host name to addresses for plugin traffic, as `capstan serve --resolve`:
    /// HOST=ADDR[,ADDR]; repeatable.
    #[arg(long = "resolve", value_name = "HOST=ADDR")]
    resolve: Vec<String>,
    /// Largest tool result, as `capstan serve --result-cap` (default 256KiB).
    #[arg(long, value_name = "SIZE")]
    result_cap: Option<String>,
    #[command(flatten)]
    caches: super::Caches,
}

/// Why nothing ran; each message says what to change on the command line.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `--instance` names no instance of the folder.
    #[error(
        "no plugin instance is named `{name}`; the folder has: {}",
        list(available)
    )]
    UnknownInstance {
        /// The name given.
        name: String,
        /// The instances that loaded.
        available: Vec<String>,
    },
    /// The tool's instance failed to load.
    #[error("plugin instance `{name}` did not load: {error}")]
    NotLoaded {
        /// The instance.
        name: String,
        /// Why, as `capstan check` says it.
        error: String,
    },
    /// No served tool has that name.
    #[error("no tool is named `{tool}`; the folder serves: {}", list(available))]
    UnknownTool {
        /// The name given.
        tool: String,
        /// The exposed names of the tools that could be meant.
        available: Vec<String>,
    },
    /// Several instances have a tool of that (plugin) name.
    #[error(
        "`{tool}` is ambiguous: call one of {} by that name, or pass --instance",
        list(candidates)
    )]
    Ambiguous {
        /// The name given.
        tool: String,
        /// The exposed names it could mean.
        candidates: Vec<String>,
    },
    /// The arguments are not JSON.
    #[error(
        "the arguments are not JSON ({0}); give one object, quoted for the shell, e.g. '{{\"text\": \"hi\"}}'"
    )]
    NotJson(serde_json::Error),
    /// The arguments are JSON, but not an object.
    #[error(
        "the arguments must be a JSON object, not {0}; give one object, quoted for the shell, e.g. '{{\"text\": \"hi\"}}'"
    )]
    NotObject(&'static str),
    /// `--target` names no target of the instance.
    #[error(
        "instance `{instance}` has no target `{target}`; its targets: {}",
        list(available)
    )]
    UnknownTarget {
        /// The instance.
        instance: String,
        /// The name given.
        target: String,
        /// Its targets.
        available: Vec<String>,
    },
    /// `--target` and the `target` argument disagree.
    #[error(
        "--target `{flag}` and the argument `target` = `{argument}` disagree; give the target once"
    )]
    TargetConflict {
        /// The flag's target.
        flag: String,
        /// The argument's.
        argument: String,
    },
    /// The input schema refuses the arguments.
    #[error(
        "invalid arguments for tool `{tool}`, nothing was run:\n- {}\n`capstan tools` and the tool's inputSchema say what it takes",
        problems.join("\n- ")
    )]
    InvalidArguments {
        /// The tool's exposed name.
        tool: String,
        /// One line per problem, naming the field.
        problems: Vec<String>,
    },
}

fn list(names: &[String]) -> String {
    match names.is_empty() {
        true => "nothing".to_owned(),
        false => names.join(", "),
    }
}

/// One call to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// The tool, as served or by its plugin's name.
    pub tool: String,
    /// The arguments as given: JSON text.
    pub arguments: String,
    /// Only this instance's tools.
    pub instance: Option<String>,
    /// The target the call addresses.
    pub target: Option<String>,
    /// Largest result, in bytes of JSON.
    pub result_cap: usize,
}

/// Where trace lines go as they happen (stderr for the command line).
pub type Trace = Arc<dyn Fn(&str) + Send + Sync>;

/// What a call gave.
#[derive(Debug)]
pub struct Called {
    /// The tool's exposed name.
    pub tool: String,
    /// The result as an MCP client gets it.
    pub result: CallToolResult,
    /// True when the sandbox stopped the call (timeout, crash, memory, ...) or the plugin
    /// asked for input that a command line cannot give.
    pub stopped: bool,
}

impl Called {
    /// The process's exit code: 0 for an answer, 1 for `isError` or a stopped call.
    pub fn exit_code(&self) -> ExitCode {
        match self.stopped || self.result.is_error == Some(true) {
            true => ExitCode::FAILURE,
            false => ExitCode::SUCCESS,
        }
    }

    fn verdict(&self) -> &'static str {
        match (self.stopped, self.result.is_error == Some(true)) {
            (true, _) => "failed",
            (false, true) => "isError",
            (false, false) => "ok",
        }
    }
}

/// Runs `capstan call`.
pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let overrides = ResolveOverrides::parse(args.resolve.iter().map(String::as_str))?;
    let egress = EgressSettings {
        overrides: Arc::new(overrides),
        ..EgressSettings::default()
    };
    let result_cap = match &args.result_cap {
        Some(size) => parse_size("--result-cap", size)?,
        None => ServeOptions::default().result_cap,
    };
    let snapshot = super::load_with(vec![args.dir], args.caches, egress).await?;
    for failure in snapshot.failures() {
        eprintln!(
            "error {}: {}",
            failure.manifest.display(),
            escape(&failure.error.to_string())
        );
    }
    let request = Request {
        tool: args.tool,
        arguments: args.arguments,
        instance: args.instance,
        target: args.target,
        result_cap,
    };
    let trace: Trace = Arc::new(|line| eprintln!("{line}"));
    let called = match call(&snapshot, &request, trace).await {
        Ok(called) => called,
        Err(error) => {
            eprintln!("capstan: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    match args.json {
        true => println!("{}", serde_json::to_string(&called.result)?),
        false => print!("{}", render(&called.result)),
    }
    eprintln!("result {}: {}", called.tool, called.verdict());
    Ok(called.exit_code())
}

/// Calls `request.tool` of `snapshot` once, every egress decision, progress report and log
/// line going to `trace` as it happens.
pub async fn call(
    snapshot: &Snapshot,
    request: &Request,
    trace: Trace,
) -> Result<Called, SetupError> {
    let (instance, index) = choose(snapshot, request)?;
    let definition = &instance.tools()[index];
    let (arguments, scope) = checked_arguments(&instance, definition, request)?;
    let (events, relay) = watched(trace);
    let context = CallContext {
        scope,
        ..CallContext::default()
    };
    let cap = request.result_cap;
    let answer = instance
        .call_tool((index, &arguments, None), events, context, cap)
        .await;
    let denials = relay.await.unwrap_or_default();
    let (result, stopped) = shape(&instance, definition, answer, &denials, cap);
    Ok(Called {
        tool: definition.exposed.clone(),
        result,
        stopped,
    })
}

/// The call's arguments, with `--target` applied and checked against the input schema, and
/// the targets the call may reach.
fn checked_arguments(
    instance: &Instance,
    definition: &ToolDefinition,
    request: &Request,
) -> Result<(Value, TargetScope), SetupError> {
    let mut arguments = parse_arguments(&request.arguments)?;
    let scope = aim(
        instance,
        definition,
        &mut arguments,
        request.target.as_deref(),
    )?;
    let arguments = Value::Object(arguments);
    let problems = definition.argument_problems(&arguments, PROBLEMS);
    match problems.is_empty() {
        true => Ok((arguments, scope)),
        false => Err(SetupError::InvalidArguments {
            tool: definition.exposed.clone(),
            problems,
        }),
    }
}

/// A call's event sink whose egress decisions go to `trace` as lines, and the task relaying
/// its other events there, which ends with the refusals once the call's sink is gone.
fn watched(trace: Trace) -> (EventSink, tokio::task::JoinHandle<result::Denials>) {
    let (events, receiver) = EventSink::channel(EVENTS);
    let watch = trace.clone();
    let events = events.watching_egress(EgressWatch::new(move |note| watch(&egress_line(note))));
    (events, tokio::spawn(relay(receiver, trace)))
}

/// The instance and tool index `request` names.
fn choose(snapshot: &Snapshot, request: &Request) -> Result<(Arc<Instance>, usize), SetupError> {
    let instances: Vec<&Arc<Instance>> = match &request.instance {
        None => snapshot.instances().iter().collect(),
        Some(name) => vec![instance_named(snapshot, name)?],
    };
    let served: Vec<(&Arc<Instance>, usize)> = instances
        .iter()
        .flat_map(|instance| (0..instance.tools().len()).map(move |index| (*instance, index)))
        .collect();
    let exposed: Vec<&str> = served
        .iter()
        .map(|(instance, index)| instance.tools()[*index].exposed.as_str())
        .collect();
    let names: Vec<&str> = served
        .iter()
        .map(|(instance, index)| instance.tools()[*index].name())
        .collect();
    let found = find(&exposed, &names, &request.tool);
    if let Err(SetupError::UnknownTool { .. }) = &found
        && let Some(failure) = failed_instance(snapshot, request)
    {
        return Err(failure);
    }
    let (instance, index) = served[found?];
    Ok((instance.clone(), index))
}

fn instance_named<'a>(snapshot: &'a Snapshot, name: &str) -> Result<&'a Arc<Instance>, SetupError> {
    if let Some(instance) = snapshot.instances().iter().find(|i| i.name() == name) {
        return Ok(instance);
    }
    let failed = snapshot.failures().iter().find(|failure| {
        failure
            .manifest
            .file_stem()
            .is_some_and(|stem| stem == name)
    });
    Err(match failed {
        Some(failure) => SetupError::NotLoaded {
            name: name.to_owned(),
            error: escape(&failure.error.to_string()).into_owned(),
        },
        None => SetupError::UnknownInstance {
            name: name.to_owned(),
            available: snapshot
                .instances()
                .iter()
                .map(|i| i.name().to_owned())
                .collect(),
        },
    })
}

/// The load failure that explains an unknown tool: the only failed manifest, or the one whose
/// name starts the tool's.
fn failed_instance(snapshot: &Snapshot, request: &Request) -> Option<SetupError> {
    let failures = snapshot.failures();
    let stem = |failure: &crate::registry::LoadFailure| {
        let stem = failure.manifest.file_stem()?.to_str()?.to_owned();
        Some(stem)
    };
    let explains = |failure: &&crate::registry::LoadFailure| {
        failures.len() == 1
            || stem(failure).is_some_and(|stem| request.tool.starts_with(&format!("{stem}_")))
    };
    let failure = failures.iter().find(explains)?;
    Some(SetupError::NotLoaded {
        name: stem(failure).unwrap_or_default(),
        error: escape(&failure.error.to_string()).into_owned(),
    })
}

/// Which of the served tools (`exposed` names and the plugins' own `names`, in step) `tool`
/// names: its exposed name, else the only tool of that plugin name.
fn find(exposed: &[&str], names: &[&str], tool: &str) -> Result<usize, SetupError> {
    if let Some(at) = exposed.iter().position(|name| *name == tool) {
        return Ok(at);
    }
    let by_name: Vec<usize> = (0..names.len()).filter(|&at| names[at] == tool).collect();
    let owned = |at: &[usize]| at.iter().map(|&at| exposed[at].to_owned()).collect();
    match by_name.as_slice() {
        [only] => Ok(*only),
        [] => Err(SetupError::UnknownTool {
            tool: tool.to_owned(),
            available: exposed.iter().map(|name| (*name).to_owned()).collect(),
        }),
        several => Err(SetupError::Ambiguous {
            tool: tool.to_owned(),
            candidates: owned(several),
        }),
    }
}

/// The arguments as a JSON object.
fn parse_arguments(text: &str) -> Result<Map<String, Value>, SetupError> {
    match serde_json::from_str::<Value>(text).map_err(SetupError::NotJson)? {
        Value::Object(object) => Ok(object),
        Value::Null => Err(SetupError::NotObject("null")),
        Value::Bool(_) => Err(SetupError::NotObject("a boolean")),
        Value::Number(_) => Err(SetupError::NotObject("a number")),
        Value::String(_) => Err(SetupError::NotObject("a string")),
        Value::Array(_) => Err(SetupError::NotObject("an array")),
    }
}

/// The targets the call may reach: every target of the instance, or only `target`, which is
/// also set as the `target` argument when the tool takes one.
fn aim(
    instance: &Instance,
    definition: &ToolDefinition,
    arguments: &mut Map<String, Value>,
    target: Option<&str>,
) -> Result<TargetScope, SetupError> {
    let Some(target) = target else {
        return Ok(TargetScope::All);
    };
    let available = instance.target_names();
    if !available.iter().any(|name| name == target) {
        return Err(SetupError::UnknownTarget {
            instance: instance.name().to_owned(),
            target: target.to_owned(),
            available,
        });
    }
    match arguments.get("target") {
        Some(Value::String(given)) if given == target => {}
        Some(given) => {
            return Err(SetupError::TargetConflict {
                flag: target.to_owned(),
                argument: given
                    .as_str()
                    .map_or_else(|| given.to_string(), str::to_owned),
            });
        }
        None if takes_target(definition) => {
            arguments.insert("target".into(), Value::String(target.to_owned()));
        }
        None => {}
    }
    Ok(TargetScope::Only(target.to_owned()))
}

/// Whether the tool's input schema has a `target` property.
fn takes_target(definition: &ToolDefinition) -> bool {
    definition
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|properties| properties.contains_key("target"))
}

/// Prints progress and log lines as they come; gathers the refusals for the result's notes.
async fn relay(mut receiver: mpsc::Receiver<GuestEvent>, trace: Trace) -> result::Denials {
    let mut denials = result::Denials::default();
    while let Some(event) = receiver.recv().await {
        match event {
            GuestEvent::Denied { url, message, .. } => denials.add(url, message),
            GuestEvent::Progress {
                done,
                total,
                message,
            } => trace(&progress_line(done, total, message.as_deref())),
            GuestEvent::Log { level, message } => {
                let level = format!("{level:?}").to_lowercase();
                trace(&format!("log {level}: {}", escape(&message)));
            }
        }
    }
    denials
}

fn progress_line(done: f64, total: Option<f64>, message: Option<&str>) -> String {
    let mut line = match total {
        Some(total) => format!("progress {done}/{total}"),
        None => format!("progress {done}"),
    };
    if let Some(message) = message {
        line.push(' ');
        line.push_str(&escape(message));
    }
    line
}

/// One egress decision as a line: method, URL, and the target with the status or failure, or
/// the reason for the refusal. Never a header.
pub fn egress_line(note: &EgressNote) -> String {
    let request = format!("{} {}", note.method, escape(&note.url));
    match &note.decision {
        EgressDecision::Allowed {
            target,
            answer: Ok(status),
        } => format!("egress allowed {request} (target {target}): {status}"),
        EgressDecision::Allowed {
            target,
            answer: Err(error),
        } => format!(
            "egress allowed {request} (target {target}): failed: {}",
            escape(error)
        ),
        EgressDecision::Refused { reason, message } => format!(
            "egress refused {request} ({}): {}",
            reason.label(),
            escape(message)
        ),
    }
}

/// The MCP result of the answer, with refusal notes and the size cap, as `capstan serve` sends
/// it; and whether the call was stopped.
fn shape(
    instance: &Instance,
    definition: &ToolDefinition,
    answer: Result<CallAnswer, InstanceError>,
    denials: &result::Denials,
    cap: usize,
) -> (CallToolResult, bool) {
    let structured = definition.output_schema.is_some();
    let (shaped, stopped) = match answer {
        Ok(CallAnswer::Whole(answer)) => (convert::call_result(answer), false),
        Ok(CallAnswer::TooLarge(start)) => (result::too_large(start, cap, structured), false),
        Ok(CallAnswer::InputRequired(_)) => (
            stopped_call(
                instance,
                definition,
                "asked the client for input (elicitation, sampling or roots), which `capstan call` cannot give",
            ),
            true,
        ),
        Err(error) => (stopped_call(instance, definition, &error.to_string()), true),
    };
    let shaped = result::note_denials(shaped, denials);
    (result::cap_size(shaped, cap, structured), stopped)
}

fn stopped_call(instance: &Instance, definition: &ToolDefinition, cause: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "tool `{}` of plugin instance `{}` {}.",
        definition.name(),
        instance.name(),
        escape(cause)
    ))])
}

/// The result for a person: each text block, the structured content as indented JSON (in
/// place of its text copy), other blocks by their type.
pub fn render(result: &CallToolResult) -> String {
    let structured = result.structured_content.as_ref();
    let mut shown = Vec::new();
    let mut structured_shown = false;
    for block in &result.content {
        let Some(text) = block.as_text() else {
            shown.push(other_block(block));
            continue;
        };
        let copy = structured
            .filter(|_| !structured_shown)
            .filter(|value| serde_json::from_str::<Value>(&text.text).ok().as_ref() == Some(value));
        match copy {
            Some(value) => {
                structured_shown = true;
                shown.push(pretty(value));
            }
            None => shown.push(escape_lines(&text.text)),
        }
    }
    if let Some(value) = structured.filter(|_| !structured_shown) {
        shown.push(pretty(value));
    }
    let mut text = shown.join("\n\n");
    text.push('\n');
    text
}

fn pretty(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    escape_lines(&text)
}

/// `text` with the control characters of each line escaped and its line breaks kept.
fn escape_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| escape(line))
        .collect::<Vec<_>>()
        .join("\n")
}

fn other_block(block: &ContentBlock) -> String {
    let kind = serde_json::to_value(block)
        .ok()
        .and_then(|value| value.get("type").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "content".to_owned());
    format!("[{kind} block; --json shows it]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RefusalReason;

    #[test]
    fn arguments_must_be_one_json_object() {
        assert!(parse_arguments("{}").unwrap().is_empty());
        assert_eq!(parse_arguments(r#"{"a": 1}"#).unwrap()["a"], 1);
        let not_json = parse_arguments("{text: hi}").unwrap_err().to_string();
        assert!(
            not_json.starts_with(
                "the arguments are not JSON (key must be a string at line 1 column 2)"
            ) && not_json.contains("quoted for the shell"),
            "{not_json}"
        );
        let array = parse_arguments("[1]").unwrap_err().to_string();
        assert!(
            array.starts_with("the arguments must be a JSON object, not an array"),
            "{array}"
        );
    }

    #[test]
    fn a_tool_is_found_by_exposed_name_or_by_its_only_plugin_name() {
        let exposed = ["a_get", "b_get", "b_list"];
        let names = ["get", "get", "list"];
        let found = |tool: &str| find(&exposed, &names, tool);
        assert_eq!(found("b_get").unwrap(), 1);
        assert_eq!(found("list").unwrap(), 2);
        let ambiguous = found("get").unwrap_err().to_string();
        assert_eq!(
            ambiguous,
            "`get` is ambiguous: call one of a_get, b_get by that name, or pass --instance"
        );
        let unknown = found("nope").unwrap_err().to_string();
        assert_eq!(
            unknown,
            "no tool is named `nope`; the folder serves: a_get, b_get, b_list"
        );
    }

    #[test]
    fn egress_lines_name_the_target_or_the_reason_and_no_header() {
        let note = |decision| EgressNote {
            method: "GET".into(),
            url: "http://127.0.0.1:8080/api/v1/x".into(),
            decision,
        };
        assert_eq!(
            egress_line(&note(EgressDecision::Allowed {
                target: "up".into(),
                answer: Ok(200)
            })),
            "egress allowed GET http://127.0.0.1:8080/api/v1/x (target up): 200"
        );
        assert_eq!(
            egress_line(&note(EgressDecision::Allowed {
                target: "up".into(),
                answer: Err("connection refused".into())
            })),
            "egress allowed GET http://127.0.0.1:8080/api/v1/x (target up): failed: connection refused"
        );
        assert_eq!(
            egress_line(&note(EgressDecision::Refused {
                reason: RefusalReason::OutsideTargets,
                message: "not inside\u{1b}[2J any target".into()
            })),
            "egress refused GET http://127.0.0.1:8080/api/v1/x (outside_targets): not inside\\u{1b}[2J any target"
        );
    }

    #[test]
    fn structured_content_is_shown_once_indented_with_the_notes() {
        let mut result = convert::call_result(crate::runtime::types::CallResult {
            content: Vec::new(),
            structured: Some(r#"{"status":200}"#.into()),
            is_error: false,
        });
        result.content.push(ContentBlock::text(
            "capstan refused a request to http://x.test/",
        ));
        assert_eq!(
            render(&result),
            "{\n  \"status\": 200\n}\n\ncapstan refused a request to http://x.test/\n"
        );
        let text = CallToolResult::success(vec![ContentBlock::text("two\nlines\u{1b}[2J")]);
        assert_eq!(render(&text), "two\nlines\\u{1b}[2J\n");
    }

    #[test]
    fn progress_lines_carry_the_total_when_known() {
        assert_eq!(
            progress_line(1.0, Some(3.0), Some("syncing")),
            "progress 1/3 syncing"
        );
        assert_eq!(progress_line(2.5, None, None), "progress 2.5");
    }
}
