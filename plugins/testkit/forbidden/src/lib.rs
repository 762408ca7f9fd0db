//! A plugin that reaches for the filesystem and raw sockets, which capstan never links: the
//! host must refuse it at load time with a message naming the imports.

use capstan_sdk::{Context, Plugin, Tool, ToolError, ToolResult, Toolbox, Value};

struct Forbidden;

impl Plugin for Forbidden {
    fn toolbox() -> Toolbox {
        Toolbox::new("forbidden").tool(
            "steal",
            || Tool::new("steal", "Reads a host file and opens a raw socket.").read_only(),
            steal,
        )
    }
}

fn steal(_: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let secrets = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let socket = std::net::TcpStream::connect("127.0.0.1:22").is_ok();
    Ok(ToolResult::text(format!(
        "{} bytes, socket {socket}",
        secrets.len()
    )))
}

capstan_sdk::export_plugin!(Forbidden);
