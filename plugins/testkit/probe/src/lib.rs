//! A scriptable test plugin: each tool exercises one behaviour of the host's sandbox, so the
//! end-to-end tests can pair an obeyed limit with a violated one (echo vs. spin, a small
//! allocation vs. a memory bomb, an allowed fetch vs. a denied one).

use std::time::Duration;

use capstan_sdk::host::Level;
use capstan_sdk::http::{self, Request};
use capstan_sdk::{Context, Plugin, Tool, ToolError, ToolResult, Toolbox, Value, args, json};

struct Probe;

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

impl Plugin for Probe {
    fn toolbox() -> Toolbox {
        Toolbox::new("probe")
            .tool("noop", || Tool::new("noop", "Does nothing and answers `ok`.").read_only().open_world(false), |_, _| Ok(ToolResult::text("ok")))
            .tool("echo", || Tool::new("echo", "Returns `text`, repeated `times` times (default 1), with structured output.")
                .input(object(
                    json!({"text": {"type": "string", "maxLength": 1000},
                           "times": {"type": "integer", "minimum": 1, "maximum": 10}}),
                    &["text"],
                ))
                .output(object(json!({"echo": {"type": "string"}}), &["echo"]))
                .read_only()
                .open_world(false), |_, arguments| echo(arguments))
            .tool("config", || Tool::new("config", "Returns the value of a `[config]` key of this instance.")
                .input(object(json!({"key": {"type": "string"}}), &["key"]))
                .read_only()
                .open_world(false), config)
            .tool("fetch", || Tool::new("fetch", "Sends an HTTP request and returns the status and body.")
                .input(object(
                    json!({"url": {"type": "string"}, "method": {"type": "string"},
                           "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                           "body": {"type": "string"}}),
                    &["url"],
                ))
                .read_only(), fetch)
            .tool("spin", || Tool::new("spin", "Loops forever; the host must interrupt it.").read_only(), |_, _| spin())
            .tool("alloc", || Tool::new("alloc", "Allocates `mib` MiB; with `fallible`, reports failure instead of aborting.")
                .input(object(
                    json!({"mib": {"type": "integer", "minimum": 0}, "fallible": {"type": "boolean"}}),
                    &["mib"],
                ))
                .read_only(), |_, arguments| alloc(arguments))
            .tool("remember", || Tool::new(
                "remember",
                "Looks through all of its linear memory for what a call with `value` = `previous` \
                 would have left there, then leaves `value` behind in a buffer of `kib` KiB and \
                 checks that the same search finds it (`sees_own`).",
            )
            .input(object(
                json!({"value": {"type": "string", "minLength": 4, "maxLength": 64},
                       "previous": {"type": "string", "maxLength": 64},
                       "kib": {"type": "integer", "minimum": 1, "maximum": 65536}}),
                &["value", "kib"],
            ))
            .output(object(
                json!({"found": {"type": "boolean"}, "sees_own": {"type": "boolean"}}),
                &["found", "sees_own"],
            ))
            .read_only()
            .open_world(false), |_, arguments| remember(arguments))
            .tool("trap", || Tool::new("trap", "Executes `unreachable`.").read_only(), |_, _| trap())
            .tool("panic", || Tool::new("panic", "Panics with a message.").read_only(), |_, _| panic!("the probe panicked on purpose"))
            .tool("sleep", || Tool::new("sleep", "Sleeps `ms` milliseconds in a host call, then answers.")
                .input(object(json!({"ms": {"type": "integer", "minimum": 0}}), &["ms"]))
                .read_only(), sleep)
            .tool("progress", || Tool::new("progress", "Reports `steps` progress updates `delay_ms` apart, then answers.")
                .input(object(
                    json!({"steps": {"type": "integer", "minimum": 1, "maximum": 1000},
                           "delay_ms": {"type": "integer", "minimum": 0}}),
                    &["steps"],
                ))
                .read_only(), progress)
            .tool("big_output", || Tool::new("big_output", "Returns a text of `bytes` bytes.")
                .input(object(json!({"bytes": {"type": "integer", "minimum": 0}}), &["bytes"]))
                .read_only(), |_, arguments| Ok(ToolResult::text("x".repeat(args::u64_or(arguments, "bytes", 0) as usize))))
            .tool("log", || Tool::new("log", "Writes `message` to the host log at `level`.")
                .input(object(
                    json!({"message": {"type": "string"},
                           "level": {"enum": ["trace", "debug", "info", "warn", "error"]}}),
                    &["message"],
                ))
                .read_only(), log)
            .tool("mutate", || Tool::new("mutate", "Pretends to change something; not read-only.")
                .destructive(true)
                .open_world(false), |_, _| Ok(ToolResult::text("mutated")))
    }
}

fn config(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let key = args::required_str(arguments, "key")?;
    Ok(ToolResult::text(
        ctx.config().get(key).unwrap_or_else(|| "<unset>".into()),
    ))
}

fn sleep(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    ctx.sleep(Duration::from_millis(args::u64_or(arguments, "ms", 0)));
    Ok(ToolResult::text("slept"))
}

fn log(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let level = match args::str(arguments, "level").unwrap_or("info") {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" => Level::Warn,
        "error" => Level::Error,
        _ => Level::Info,
    };
    ctx.log(level, args::required_str(arguments, "message")?);
    Ok(ToolResult::text("logged"))
}

fn echo(arguments: &Value) -> Result<ToolResult, ToolError> {
    let text = args::required_str(arguments, "text")?;
    let echo = text.repeat(args::u64_or(arguments, "times", 1) as usize);
    Ok(ToolResult::structured(json!({ "echo": echo })))
}

fn fetch(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let url = args::required_str(arguments, "url")?;
    let method = args::str(arguments, "method").unwrap_or("GET");
    let method = method
        .parse()
        .map_err(|_| ToolError::new(format!("bad method `{method}`")))?;
    let mut request = Request::new(method, url);
    if let Some(headers) = arguments.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str().unwrap_or_default());
        }
    }
    if let Some(body) = args::str(arguments, "body") {
        request = request.body(body.as_bytes().to_vec());
    }
    let response = ctx.send(request)?;
    Ok(ToolResult::structured(json!({
        "status": response.status,
        "body": http::excerpt(&response.text(), 4096),
    })))
}

fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn alloc(arguments: &Value) -> Result<ToolResult, ToolError> {
    let bytes = args::u64_or(arguments, "mib", 0) as usize * 1024 * 1024;
    let fallible = arguments
        .get("fallible")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut buffer: Vec<u8> = Vec::new();
    if fallible {
        buffer
            .try_reserve_exact(bytes)
            .map_err(|_| ToolError::new(format!("could not allocate {bytes} bytes")))?;
    } else {
        buffer.reserve_exact(bytes);
    }
    buffer.resize(bytes, 1);
    Ok(ToolResult::text(format!(
        "allocated {} bytes",
        std::hint::black_box(&buffer).len()
    )))
}

/// What `remember` writes for `value`: each byte shifted by one, so the plain `value` in the
/// call's own arguments never matches it.
fn trace_of(value: &str) -> Vec<u8> {
    value.bytes().map(|byte| byte.wrapping_add(1)).collect()
}

fn remember(arguments: &Value) -> Result<ToolResult, ToolError> {
    let previous = args::str(arguments, "previous").unwrap_or_default();
    let found = !previous.is_empty() && memory_holds(&trace_of(previous));
    let trace = trace_of(args::required_str(arguments, "value")?);
    let bytes = args::u64_or(arguments, "kib", 1) as usize * 1024;
    let buffer: Vec<u8> = trace.iter().copied().cycle().take(bytes).collect();
    // The scan must see this call's own trace in the buffer, or a `found: false` proves nothing.
    let sees_own = memory_holds(&trace) || !cfg!(target_arch = "wasm32");
    std::hint::black_box(&buffer);
    Ok(ToolResult::structured(
        json!({ "found": found, "sees_own": sees_own }),
    ))
}

/// Whether `needle` occurs anywhere in linear memory other than at `needle` itself.
#[cfg(target_arch = "wasm32")]
fn memory_holds(needle: &[u8]) -> bool {
    let end = core::arch::wasm32::memory_size(0) * 65536;
    // SAFETY: every address in 1..end lies inside the instance's linear memory, which is
    // readable as bytes; address 0 is skipped only because a slice may not start at null.
    let memory =
        unsafe { std::slice::from_raw_parts(std::ptr::with_exposed_provenance::<u8>(1), end - 1) };
    let own = needle.as_ptr() as usize;
    memory
        .windows(needle.len())
        .enumerate()
        .any(|(offset, window)| window == needle && offset + 1 != own)
}

#[cfg(not(target_arch = "wasm32"))]
fn memory_holds(_needle: &[u8]) -> bool {
    false
}

fn trap() -> Result<ToolResult, ToolError> {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    unreachable!("trap")
}

fn progress(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let steps = args::u64_or(arguments, "steps", 1);
    let delay = args::u64_or(arguments, "delay_ms", 0);
    for step in 1..=steps {
        ctx.sleep(Duration::from_millis(delay));
        ctx.progress(
            step as f64,
            Some(steps as f64),
            Some(&format!("step {step} of {steps}")),
        );
    }
    Ok(ToolResult::text(format!("done after {steps} steps")))
}

capstan_sdk::export_plugin!(Probe);
