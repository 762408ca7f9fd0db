//! Agent Skills a plugin ships inside its component: folders with a `SKILL.md` (YAML front
//! matter with `name` and `description`, then Markdown) and optional sibling files, served by
//! the host over MCP's Skills extension and exported by `capstan skills export`.
//!
//! Write a tool's name as `{{tool:NAME}}` (the plugin's own name): the host replaces it with
//! the name the instance exposes and refuses a skill naming a tool the plugin lacks. Ship a
//! skill from `skills/<name>/SKILL.md` in the plugin's crate with [`skill!`](crate::skill!).

use crate::bindings::capstan::plugin::types;

/// One skill: its name and files.
#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    name: String,
    files: Vec<(String, String)>,
}

impl Skill {
    /// The skill `name` (equal to its `SKILL.md`'s front matter `name`), with no files yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            files: Vec::new(),
        }
    }

    /// Adds the file at `path` (within the skill's folder) with `content`.
    pub fn file(mut self, path: impl Into<String>, content: impl Into<String>) -> Self {
        self.files.push((path.into(), content.into()));
        self
    }

    /// The skill's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its files, by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, c)| (p.as_str(), c.as_str()))
    }

    pub(crate) fn into_wit(self) -> types::Skill {
        types::Skill {
            name: self.name,
            files: self
                .files
                .into_iter()
                .map(|(path, content)| types::SkillFile { path, content })
                .collect(),
        }
    }
}

/// The skill in `skills/<name>/SKILL.md` of the calling crate, embedded at compile time:
/// `capstan_sdk::skill!("argocd-degraded-application")`.
#[macro_export]
macro_rules! skill {
    ($name:literal) => {
        $crate::Skill::new($name).file(
            "SKILL.md",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/skills/",
                $name,
                "/SKILL.md"
            )),
        )
    };
}
