//! The Agent Skills an instance serves: the plugin's skill folders, checked and rendered once
//! when the instance loads.
//!
//! Each skill is served as `skill://INSTANCE/NAME/` with its `SKILL.md` and sibling files. At
//! load, `{{tool:NAME}}` in a file becomes the exposed name of the plugin's tool `NAME` (a
//! skill naming a tool the plugin lacks is refused, so a skill can never point an agent at a
//! tool that does not exist), the `SKILL.md` front matter is parsed and checked against the
//! Agent Skills rules, and every file gets its sha256 digest.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::runtime::types;

/// The name of a skill's entry point.
pub const SKILL_MD: &str = "SKILL.md";

/// Longest skill description (the Agent Skills limit).
const MAX_DESCRIPTION: usize = 1024;

/// A skill as served.
#[derive(Debug, Clone)]
pub struct SkillDefinition {
    /// Its name, equal to its front matter's `name`.
    pub name: String,
    /// The URI of its `SKILL.md`.
    pub uri: String,
    /// The front matter of its `SKILL.md`, every field as written.
    pub frontmatter: Map<String, Value>,
    /// Its files, `SKILL.md` first.
    pub files: Vec<SkillFile>,
}

/// One file of a served skill, rendered.
#[derive(Debug, Clone)]
pub struct SkillFile {
    /// Its URI.
    pub uri: String,
    /// Its path within the skill's folder.
    pub path: String,
    /// Its text, with tool names rendered.
    pub content: String,
    /// `sha256:` and the hex digest of `content`.
    pub digest: String,
}

impl SkillDefinition {
    /// The skill's description from its front matter.
    pub fn description(&self) -> &str {
        self.frontmatter
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The file served at `uri`.
    pub fn file(&self, uri: &str) -> Option<&SkillFile> {
        self.files.iter().find(|file| file.uri == uri)
    }
}

/// Checks and renders `skill` of instance `instance`, naming tools with `exposed` (the plugin's
/// tool names it knows, and the name each is served as); the error says what to fix.
pub fn serve_skill(
    instance: &str,
    skill: types::Skill,
    exposed: &dyn Fn(&str) -> Option<String>,
) -> Result<SkillDefinition, String> {
    check_skill_name(&skill.name)?;
    let root = format!("skill://{instance}/{}/", skill.name);
    let mut files = Vec::with_capacity(skill.files.len());
    for file in skill.files {
        check_path(&file.path)?;
        if files.iter().any(|f: &SkillFile| f.path == file.path) {
            return Err(format!("lists the file `{}` twice", file.path));
        }
        let content = render_tools(&file.content, exposed)
            .map_err(|error| format!("{}: {error}", file.path))?;
        files.push(SkillFile {
            uri: format!("{root}{}", file.path),
            digest: digest(content.as_bytes()),
            path: file.path,
            content,
        });
    }
    let Some(at) = files.iter().position(|f| f.path == SKILL_MD) else {
        return Err(format!("has no {SKILL_MD}"));
    };
    files.swap(0, at);
    let frontmatter = frontmatter(&files[0].content)?;
    match frontmatter.get("name").and_then(Value::as_str) {
        Some(name) if name == skill.name => {}
        Some(name) => {
            return Err(format!(
                "{SKILL_MD} names the skill `{name}` but its folder is `{}`; make them equal",
                skill.name
            ));
        }
        None => return Err(format!("{SKILL_MD} front matter has no `name`")),
    }
    match frontmatter.get("description").and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() && text.len() <= MAX_DESCRIPTION => {}
        _ => {
            return Err(format!(
                "{SKILL_MD} front matter needs a `description` of 1 to {MAX_DESCRIPTION} characters saying what the skill does and when to use it"
            ));
        }
    }
    Ok(SkillDefinition {
        uri: format!("{root}{SKILL_MD}"),
        name: skill.name,
        frontmatter,
        files,
    })
}

/// `sha256:` and the lowercase hex digest of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

fn check_skill_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the skill name `{name}` is invalid: use 1 to 64 of a-z, 0-9 and single hyphens"
        ))
    }
}

fn check_path(path: &str) -> Result<(), String> {
    let valid = !path.is_empty()
        && path.len() <= 256
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the file path `{path}` is invalid: use `/`-separated segments of a-z, A-Z, 0-9, `-`, `_` and `.`, without `.` or `..` segments"
        ))
    }
}

/// `text` with every `{{tool:NAME}}` replaced by the tool's exposed name.
fn render_tools(text: &str, exposed: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    const OPEN: &str = "{{tool:";
    let mut rendered = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        rendered.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find("}}") else {
            return Err("a `{{tool:` is never closed with `}}`".into());
        };
        let name = &after[..end];
        let Some(name) = exposed(name) else {
            return Err(format!(
                "names the tool `{name}`, which the plugin does not have; use one of its tool names"
            ));
        };
        rendered.push_str(&name);
        rest = &after[end + 2..];
    }
    rendered.push_str(rest);
    Ok(rendered)
}

/// The YAML front matter of a `SKILL.md`, between its first two `---` lines.
fn frontmatter(text: &str) -> Result<Map<String, Value>, String> {
    let missing = || format!("{SKILL_MD} must start with YAML front matter between `---` lines");
    let body = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(missing)?;
    let end = body
        .find("\n---\n")
        .or_else(|| body.find("\n---\r\n"))
        .or_else(|| body.strip_suffix("\n---").map(str::len))
        .ok_or_else(missing)?;
    let yaml = &body[..end];
    let value: Value = serde_norway::from_str(yaml)
        .map_err(|error| format!("{SKILL_MD} front matter is not valid YAML: {error}"))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(format!("{SKILL_MD} front matter must be a YAML mapping")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(name: &str, md: &str) -> types::Skill {
        types::Skill {
            name: name.into(),
            files: vec![types::SkillFile {
                path: SKILL_MD.into(),
                content: md.into(),
            }],
        }
    }

    fn tools(name: &str) -> Option<String> {
        (name == "get_application").then(|| format!("prod_{name}"))
    }

    #[test]
    fn a_skill_is_rendered_with_exposed_tool_names_and_digested() {
        let md = "---\nname: fix-it\ndescription: Use when it breaks.\n---\nCall {{tool:get_application}}.\n";
        let served = serve_skill("prod", skill("fix-it", md), &tools).unwrap();
        assert_eq!(served.uri, "skill://prod/fix-it/SKILL.md");
        assert!(
            served.files[0]
                .content
                .contains("Call prod_get_application.")
        );
        assert_eq!(
            served.files[0].digest,
            digest(served.files[0].content.as_bytes())
        );
        assert_eq!(served.description(), "Use when it breaks.");
    }

    #[test]
    fn a_skill_naming_a_missing_tool_or_breaking_the_rules_is_refused() {
        let cases = [
            (
                "fix-it",
                "---\nname: fix-it\ndescription: d\n---\n{{tool:delete_cluster}}",
                "delete_cluster",
            ),
            ("fix-it", "no front matter", "front matter"),
            (
                "fix-it",
                "---\nname: other\ndescription: d\n---\n",
                "its folder is `fix-it`",
            ),
            ("fix-it", "---\nname: fix-it\n---\n", "description"),
            (
                "Fix_It",
                "---\nname: Fix_It\ndescription: d\n---\n",
                "invalid",
            ),
            ("fix-it", "---\nname: [\n---\n", "YAML"),
        ];
        for (name, md, expected) in cases {
            let error = serve_skill("prod", skill(name, md), &tools).unwrap_err();
            assert!(error.contains(expected), "{name}: {error}");
        }
        let mut escaping = skill("fix-it", "---\nname: fix-it\ndescription: d\n---\n");
        escaping.files.push(types::SkillFile {
            path: "../secrets".into(),
            content: String::new(),
        });
        assert!(
            serve_skill("prod", escaping, &tools)
                .unwrap_err()
                .contains("`..`")
        );
    }
}
